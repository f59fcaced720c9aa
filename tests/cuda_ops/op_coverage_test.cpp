// Runs every row of the op-coverage table (op_cases.cpp) as one test, named
// CudaOps/OpCoverage.MatchesCpuTwin/<op>_<dtype>_<variant>: the CUDA op against its CPU twin on
// fresh random inputs, its output poisoned with NaN first. Skips only where no GPU exists.
#include "op_coverage.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/cuda/cuda_context.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo::testing {
namespace {

const Device kGpu = Device::cuda(0);

// Leaves blocks of an output's size full of NaN (all-ones bits, NaN in F32 and BF16) in the device
// allocator's cache, where the op's output allocation finds one: an element the kernel never
// writes fails the comparison. Sixteen, so that temporaries of the same size cannot use them up.
void poison_next_outputs(const Shape& shape, DType dtype) {
  std::vector<Tensor> blocks;
  CudaContext& ctx = CudaContext::get(0);
  for (int i = 0; i < 16; ++i) {
    blocks.push_back(Tensor::empty(shape, dtype, kGpu));
    ASSERT_EQ(cudaMemsetAsync(blocks.back().raw_data(), 0xff, blocks.back().nbytes(), ctx.stream()),
              cudaSuccess);
  }
}

int64_t count_non_finite(const Tensor& host_f32) {
  int64_t n = 0;
  for (float v : host_f32.f32()) n += !std::isfinite(v);
  return n;
}

class OpCoverage : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpCoverage, MatchesCpuTwin) {
  REQUIRE_GPU();
  const OpCase& c = GetParam();
  const DType out_dtype = c.out.value_or(c.operands.front().dtype);
  for (int run = 0; run < c.runs; ++run) {
    std::vector<Tensor> cpu_inputs, gpu_inputs;
    for (const Operand& o : c.operands) {
      Tensor x = randn(o.shape, o.stddev);
      for (float& v : x.f32()) v += o.mean;
      cpu_inputs.push_back(x.to(o.cpu_sees.value_or(o.dtype)).to(DType::F32));
      gpu_inputs.push_back(x.to(o.dtype).to(kGpu));
    }
    const Tensor want = c.op(cpu_inputs);
    poison_next_outputs(want.shape(), out_dtype);
    const Tensor got = (c.gpu_op ? c.gpu_op : c.op)(gpu_inputs);

    ASSERT_EQ(got.device(), kGpu);
    EXPECT_EQ(got.dtype(), out_dtype);
    ASSERT_EQ(got.shape(), want.shape());
    const Tensor host = got.to(Device::cpu()).to(DType::F32);
    EXPECT_EQ(count_non_finite(host), 0) << "NaN/Inf in the GPU output (NaN: never written)";
    EXPECT_LE(rel_l2(host, want), c.bound)
        << "rel L2 of the GPU result against the CPU twin, run " << run + 1 << " of " << c.runs;
  }
}

INSTANTIATE_TEST_SUITE_P(CudaOps, OpCoverage, ::testing::ValuesIn(op_cases()),
                         [](const ::testing::TestParamInfo<OpCase>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace fastvideo::testing
