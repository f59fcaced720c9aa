// ops::attention on CUDA against its exact fp32 CPU twin, on bf16-rounded random inputs: the DiT's
// self- and cross-attention shapes through cuDNN's fused SDPA, and UMT5's biased attention, the
// VAE's single wide head and F32 inputs through the GEMM + softmax path. Which path ran is checked
// too. Skips only where no GPU exists (CI); the GPU machine runs it.
#include "ops/attention.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/attention_backend.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);
constexpr double kBound = 1e-2;  // BRIEF: rel_l2 for bf16 attention

// Fresh N(0, stddev) values that BF16 holds exactly, as f32 on the CPU (the twin's input).
Tensor randn_bf16_exact(Shape shape, float stddev = 1.0f) {
  return testing::randn(std::move(shape), stddev).to(DType::BF16).to(DType::F32);
}

// Leaves a NaN-filled block of `bytes` in the device cache, so an output the op allocates next
// (same size) starts as NaN and any element it fails to write fails the comparison.
void poison_next_allocation(int64_t bytes) {
  Tensor t = Tensor::empty({bytes}, DType::U8, kGpu);
  CudaContext& ctx = CudaContext::get(0);
  FV_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0xFF, size_t(bytes), ctx.stream()));
  ctx.synchronize();
}

struct Case {
  int64_t B, H, Sq, Sk, D, Dv;
};

std::string name(const Case& c) {
  return str_cat("B=", c.B, " H=", c.H, " Sq=", c.Sq, " Sk=", c.Sk, " D=", c.D, " Dv=", c.Dv);
}

// Runs one case on the GPU in `dtype` and on the CPU in f32; returns rel_l2 of GPU vs CPU.
double compare_with_cpu(const Case& c, float scale, DType dtype = DType::BF16, float stddev = 1.0f,
                        const Tensor& bias = {}) {
  Tensor q = randn_bf16_exact({c.B, c.Sq, c.H, c.D}, stddev);
  Tensor k = randn_bf16_exact({c.B, c.Sk, c.H, c.D}, stddev);
  Tensor v = randn_bf16_exact({c.B, c.Sk, c.H, c.Dv}, stddev);
  Tensor expected = ops::cpu::attention(q, k, v, scale, bias);
  poison_next_allocation(c.B * c.Sq * c.H * c.Dv * int64_t(dtype_size(dtype)));
  Tensor got = ops::attention(q.to(kGpu).to(dtype), k.to(kGpu).to(dtype), v.to(kGpu).to(dtype),
                              scale, bias.defined() ? bias.to(kGpu) : Tensor());
  EXPECT_EQ(got.dtype(), dtype) << name(c);
  EXPECT_EQ(got.shape(), expected.shape()) << name(c);
  return testing::rel_l2(got.to(Device::cpu()).to(DType::F32), expected);
}

// Whether these shapes would take the cuDNN path (builds the plan; no attention is computed).
bool uses_cudnn(const Case& c, float scale, DType dtype = DType::BF16, bool with_bias = false) {
  Tensor q = Tensor::empty({c.B, c.Sq, c.H, c.D}, dtype, kGpu);
  Tensor k = Tensor::empty({c.B, c.Sk, c.H, c.D}, dtype, kGpu);
  Tensor v = Tensor::empty({c.B, c.Sk, c.H, c.Dv}, dtype, kGpu);
  Tensor bias = with_bias ? Tensor::empty({c.H, c.Sq, c.Sk}, DType::F32, kGpu) : Tensor();
  return ops::cuda::attention_uses_cudnn(q, k, v, scale, bias);
}

float inv_sqrt(int64_t d) { return 1.0f / std::sqrt(float(d)); }

TEST(CudaAttention, DitSelfAttentionRunsOnCudnnAndMatchesTheCpu) {
  REQUIRE_GPU();
  // Sequence lengths that are not multiples of any tile size.
  for (Case c : {Case{1, 2, 77, 77, 128, 128}, Case{2, 12, 1000, 1000, 128, 128},
                 Case{1, 2, 4097, 4097, 128, 128}, Case{2, 3, 333, 333, 128, 128}}) {
    EXPECT_TRUE(uses_cudnn(c, inv_sqrt(c.D))) << name(c);
    EXPECT_LE(compare_with_cpu(c, inv_sqrt(c.D)), kBound) << name(c);
  }
}

TEST(CudaAttention, DitCrossAttentionOver512TextTokensRunsOnCudnnAndMatchesTheCpu) {
  REQUIRE_GPU();
  for (Case c : {Case{2, 12, 1000, 512, 128, 128}, Case{1, 2, 4097, 512, 128, 128}}) {
    EXPECT_TRUE(uses_cudnn(c, inv_sqrt(c.D))) << name(c);
    EXPECT_LE(compare_with_cpu(c, inv_sqrt(c.D)), kBound) << name(c);
  }
}

TEST(CudaAttention, HeadDim64RunsOnCudnnAndMatchesTheCpu) {
  REQUIRE_GPU();
  const Case c{1, 12, 300, 300, 64, 64};
  EXPECT_TRUE(uses_cudnn(c, inv_sqrt(c.D)));
  EXPECT_LE(compare_with_cpu(c, inv_sqrt(c.D)), kBound);
}

TEST(CudaAttention, StridedQkvViewsOfAFusedProjectionMatchTheCpu) {
  REQUIRE_GPU();
  // q, k, v as views of one [B, S, 3, H, D] projection: strides (S·3HD, 3HD, D, 1).
  const int64_t B = 2, S = 257, H = 4, D = 128;
  Tensor qkv = randn_bf16_exact({B, S, 3, H, D});
  Tensor expected =
      ops::cpu::attention(qkv.select(2, 0), qkv.select(2, 1), qkv.select(2, 2), inv_sqrt(D));
  Tensor g = qkv.to(kGpu).to(DType::BF16);
  Tensor q = g.select(2, 0), k = g.select(2, 1), v = g.select(2, 2);
  EXPECT_TRUE(ops::cuda::attention_uses_cudnn(q, k, v, inv_sqrt(D)));
  Tensor got = ops::attention(q, k, v, inv_sqrt(D));
  EXPECT_LE(testing::rel_l2(got.to(Device::cpu()), expected), kBound);
}

TEST(CudaAttention, Umt5RelativePositionBiasWithUnitScaleMatchesTheCpu) {
  REQUIRE_GPU();
  // UMT5: unscaled scores plus a learned [H, S, S] bias, shared over the batch; the GEMM path.
  for (Case c : {Case{2, 8, 77, 77, 64, 64}, Case{1, 4, 512, 512, 64, 64}}) {
    Tensor bias = testing::randn({c.H, c.Sq, c.Sk}, 3.0f);
    EXPECT_FALSE(uses_cudnn(c, 1.0f, DType::BF16, true)) << name(c);
    EXPECT_LE(compare_with_cpu(c, 1.0f, DType::BF16, 1.0f, bias), kBound) << name(c);
  }
}

TEST(CudaAttention, VaeSingleWideHeadTakesTheGemmPathAndMatchesTheCpu) {
  REQUIRE_GPU();
  // The VAE mid-block: one head of dim C = 384 (real model), which cuDNN's kernels do not take.
  const Case c{1, 1, 300, 300, 384, 384};
  EXPECT_FALSE(uses_cudnn(c, inv_sqrt(c.D)));
  EXPECT_LE(compare_with_cpu(c, inv_sqrt(c.D)), kBound);
  const Case batched{3, 1, 100, 100, 384, 384};
  EXPECT_LE(compare_with_cpu(batched, inv_sqrt(c.D)), kBound);
}

TEST(CudaAttention, F32InputsTakeTheGemmPathAndStayF32Accurate) {
  REQUIRE_GPU();
  for (Case c : {Case{2, 3, 129, 65, 64, 48}, Case{1, 1, 300, 300, 384, 384}}) {
    EXPECT_FALSE(uses_cudnn(c, inv_sqrt(c.D), DType::F32)) << name(c);
    // fp32 GEMMs (no TF32) and an fp32 softmax: only summation order differs from the CPU.
    EXPECT_LE(compare_with_cpu(c, inv_sqrt(c.D), DType::F32), 1e-4) << name(c);
  }
  Tensor bias = testing::randn({4, 50, 70}, 2.0f);
  EXPECT_LE(compare_with_cpu(Case{2, 4, 50, 70, 32, 32}, 1.0f, DType::F32, 1.0f, bias), 1e-4);
}

TEST(CudaAttention, LargeMagnitudeInputsStayFiniteOnBothPaths) {
  REQUIRE_GPU();
  // ×20 inputs push the scores into the hundreds: the softmax must subtract the row max.
  const Case dit{1, 4, 1000, 1000, 128, 128};
  EXPECT_LE(compare_with_cpu(dit, inv_sqrt(dit.D), DType::BF16, 20.0f), kBound);
  const Case vae{1, 1, 300, 300, 384, 384};
  EXPECT_LE(compare_with_cpu(vae, inv_sqrt(vae.D), DType::BF16, 20.0f), kBound);
  Tensor bias = testing::randn({8, 77, 77}, 20.0f);
  EXPECT_LE(compare_with_cpu(Case{1, 8, 77, 77, 64, 64}, 1.0f, DType::BF16, 20.0f, bias), kBound);
}

}  // namespace
}  // namespace fastvideo
