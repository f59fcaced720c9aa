// The CUDA half of Tensor: host <-> device copies, on-device dtype conversion and strided copies
// against the CPU, and the caching allocator. Skips only where no GPU exists (CI); gpu-check runs
// it.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

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
