// What a denoising step runs on the GPU without the host waiting (issue 11): the timestep
// sinusoid made on the device from values passed in the launch, equal to the CPU twin, and the
// chain's NaN flag read back through DeviceStepFlags one step behind. Skips only where no GPU
// exists.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "core/device_step_flags.h"
#include "ops/linear_chain.h"
#include "ops/timestep_embedding.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);

TEST(CudaTimestepEmbedding, EqualsTheCpuTwinBitForBit) {
  REQUIRE_GPU();
  // Wan's timesteps (integers, UniPC's truncated values, a CFG pair), fractional ones, the most
  // one launch takes (16, distinct), and 17: past that the sinusoid is made on the host and copied.
  std::vector<double> sixteen;
  for (int b = 0; b < 16; ++b) sixteen.push_back(1000.0 - 61.3 * b);
  const std::vector<std::vector<double>> batches = {{999.0},
                                                    {999.0, 999.0},
                                                    {0.0, 1.0, 500.5, 757.0, 987.654},
                                                    sixteen,
                                                    std::vector<double>(17, 321.0)};
  for (const auto& ts : batches) {
    for (int dim : {256, 2, 50}) {
      const Tensor cpu = ops::timestep_embedding(ts, dim);
      const Tensor gpu = ops::timestep_embedding(ts, dim, kGpu);
      ASSERT_EQ(gpu.device(), kGpu);
      ASSERT_EQ(gpu.shape(), cpu.shape());
      const Tensor back = gpu.to(Device::cpu());
      for (int64_t i = 0; i < cpu.numel(); ++i) {
        ASSERT_EQ(back.f32()[size_t(i)], cpu.f32()[size_t(i)])
            << ts.size() << " timesteps, dim " << dim << ", element " << i;
      }
    }
  }
}

// Three steps' chains, a NaN planted in step 1's input: only step 1's word is set, each read once
// the next step is queued.
TEST(CudaDeviceStepFlags, ReadEachStepsNanFlagOneStepBehind) {
  REQUIRE_GPU();
  const int steps = 3;
  DeviceStepFlags flags(kGpu, steps);
  Tensor x = testing::randn({1, 16, 21, 60, 104}).to(kGpu);
  std::vector<int32_t> seen;
  for (int i = 0; i < steps; ++i) {
    Tensor v = testing::randn(x.shape());
    if (i == 1) v.f32()[12345] = std::numeric_limits<float>::quiet_NaN();
    ops::LinearChain chain;
    const auto vel = chain.combine({{chain.input(v.to(DType::BF16).to(kGpu)), 1.0}}, DType::BF16);
    chain.flag_non_finite(vel, flags.flags(), i);
    const auto next = chain.combine({{chain.input(x), 1.0}, {vel, -0.1}}, DType::F32);
    chain.keep(next);
    chain.run();
    x = chain.result(next);
    flags.mark(i);
    if (i > 0) seen.push_back(flags.value(i - 1));
  }
  seen.push_back(flags.value(steps - 1));
  EXPECT_EQ(seen, (std::vector<int32_t>{0, 1, 0}));
  try {
    DeviceStepFlags unmarked(kGpu, 2);
    unmarked.value(0);
    ADD_FAILURE() << "value() before mark() did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("before mark(0)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fastvideo
