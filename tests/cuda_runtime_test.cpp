// The CUDA half of Tensor: host <-> device copies, on-device dtype conversion and strided copies
// against the CPU, and the caching allocator. Skips only where no GPU exists (CI); gpu-check runs
// it.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <functional>

#include "core/cuda/cuda_context.h"
#include "core/cuda/device_allocator.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);

TEST(CudaRuntime, HostDeviceRoundTripIsBitExact) {
  REQUIRE_GPU();
  Tensor x = testing::randn({3, 5, 7});
  Tensor back = x.to(kGpu).to(Device::cpu());
  EXPECT_EQ(testing::rel_l2(back, x), 0.0);
  EXPECT_EQ(x.to(kGpu).device(), kGpu);
}

TEST(CudaRuntime, DeviceDtypeConversionMatchesTheCpu) {
  REQUIRE_GPU();
  Tensor x = testing::randn({1000}, 30.0f);
  for (DType d : {DType::BF16, DType::F16}) {
    Tensor cpu = x.to(d).to(DType::F32);
    Tensor gpu = x.to(kGpu).to(d).to(DType::F32).to(Device::cpu());
    EXPECT_EQ(testing::rel_l2(gpu, cpu), 0.0) << dtype_name(d);
  }
}

TEST(CudaRuntime, StridedDeviceCopiesMatchTheCpu) {
  REQUIRE_GPU();
  Tensor x = testing::randn({4, 6, 10});
  Tensor cpu = x.permute({2, 0, 1}).slice(0, 1, 9).contiguous();
  Tensor gpu = x.to(kGpu).permute({2, 0, 1}).slice(0, 1, 9).contiguous().to(Device::cpu());
  EXPECT_EQ(testing::rel_l2(gpu, cpu), 0.0);
  // Host strided source into a strided device destination.
  Tensor dst = Tensor::zeros({10, 4, 6}, DType::BF16, kGpu);
  dst.permute({1, 2, 0}).copy_from(x);
  EXPECT_EQ(testing::rel_l2(dst.to(Device::cpu()).to(DType::F32),
                            x.permute({2, 0, 1}).contiguous().to(DType::BF16).to(DType::F32)),
            0.0);
}

// Copies whose innermost elements run contiguously in both tensors take the row path (16-byte
// vectors per run, device_copy.cu); the rest the element path. Each against the CPU, both dtypes:
// a slice along an outer dim (a causal conv's cached frames), a permute keeping the last dims
// (the VAE's temporal interleave), a strided destination, and runs that are too short or start
// off a 16-byte boundary (the element path).
TEST(CudaRuntime, RowCopiesMatchTheCpu) {
  REQUIRE_GPU();
  const auto check = [](const Tensor& x, const std::function<Tensor(const Tensor&)>& view,
                        const char* what) {
    for (DType d : {DType::F32, DType::BF16}) {
      const Tensor host = x.to(d);
      const Tensor want = view(host).contiguous();
      const Tensor got = view(host.to(kGpu)).contiguous().to(Device::cpu());
      EXPECT_EQ(got.shape(), want.shape()) << what;
      EXPECT_EQ(testing::rel_l2(got.to(DType::F32), want.to(DType::F32)), 0.0)
          << what << " " << dtype_name(d);
    }
  };
  const Tensor x = testing::randn({2, 3, 6, 8, 40});
  check(
      x, [](const Tensor& t) { return t.slice(2, 4, 6); }, "last two frames");
  check(
      x,
      [](const Tensor& t) {
        return t.reshape({2, 3, 2, 3, 8, 40}).permute({0, 2, 1, 3, 4, 5});
      },
      "channel halves interleaved");
  check(
      x, [](const Tensor& t) { return t.slice(3, 0, 1).slice(4, 0, 8); },
      "runs shorter than a row");
  // Runs long enough for the row path whose start (one element in) or outer stride (2,600 bytes
  // in bf16) is off a 16-byte boundary: the element path, or a misaligned vector load would fail.
  check(
      testing::randn({2, 3, 4, 520}), [](const Tensor& t) { return t.slice(3, 1, 513); },
      "runs starting one element in");
  check(
      testing::randn({3, 5, 260}), [](const Tensor& t) { return t.slice(1, 0, 4); },
      "an outer stride off 16 bytes");
  // Into a strided destination: a slice of a bigger tensor along an outer dim.
  for (DType d : {DType::F32, DType::BF16}) {
    Tensor dst = Tensor::zeros({2, 3, 9, 8, 40}, d, kGpu);
    dst.slice(2, 3, 9).copy_from(x.to(d).to(kGpu));
    const Tensor back = dst.to(Device::cpu()).to(DType::F32);
    EXPECT_EQ(testing::rel_l2(back.slice(2, 3, 9).contiguous(), x.to(d).to(DType::F32)), 0.0);
    EXPECT_EQ(testing::rel_l2(back.slice(2, 0, 3).contiguous(),
                              Tensor::zeros({2, 3, 3, 8, 40}, DType::F32)),
              0.0);
  }
}

TEST(CudaRuntime, AllocatorReusesFreedBlocksAndTracksThePeak) {
  REQUIRE_GPU();
  DeviceAllocator& alloc = DeviceAllocator::get(0);
  { Tensor warm = Tensor::empty({1 << 20}, DType::F32, kGpu); }
  const int64_t reserved = alloc.stats().reserved;
  alloc.reset_peak();
  const int64_t base = alloc.stats().in_use;
  {
    Tensor a = Tensor::empty({1 << 20}, DType::F32, kGpu);  // 4 MiB from the cache
    EXPECT_EQ(alloc.stats().reserved, reserved) << "a freed block of the same size was not reused";
    EXPECT_GE(alloc.stats().peak - base, int64_t(4) << 20);
  }
  EXPECT_EQ(alloc.stats().in_use, base);
}

TEST(CudaRuntime, OutOfMemoryIsAClearError) {
  REQUIRE_GPU();
  try {
    Tensor huge = Tensor::empty({int64_t(1) << 45}, DType::F32, kGpu);  // 128 TiB
    FAIL() << "allocated 128 TiB";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fastvideo
