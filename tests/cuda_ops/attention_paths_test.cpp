// Which of the two CUDA attention paths (src/ops/cuda/attention_backend.h) each shape takes: the
// DiT's BF16 self- and cross-attention, up to full Wan sizes and as strided views of a fused
// projection, run on cuDNN's fused SDPA; a bias (UMT5), a 384-wide head (the VAE) or F32 inputs
// take the GEMM + softmax path. Asking builds cuDNN's plan but computes no attention. Whether each
// path's result is right is the op-coverage table's job (op_cases.cpp, the attention rows).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "ops/cuda/attention_backend.h"
#include "require_gpu.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);

struct Case {
  int64_t B, H, Sq, Sk, D, Dv;
};

std::string name(const Case& c) {
  return str_cat("B=", c.B, " H=", c.H, " Sq=", c.Sq, " Sk=", c.Sk, " D=", c.D, " Dv=", c.Dv);
}

// Whether attention on these shapes would run on cuDNN; with a bias, unscaled as in UMT5.
bool uses_cudnn(const Case& c, DType dtype = DType::BF16, bool with_bias = false) {
  Tensor q = Tensor::empty({c.B, c.Sq, c.H, c.D}, dtype, kGpu);
  Tensor k = Tensor::empty({c.B, c.Sk, c.H, c.D}, dtype, kGpu);
  Tensor v = Tensor::empty({c.B, c.Sk, c.H, c.Dv}, dtype, kGpu);
  Tensor bias = with_bias ? Tensor::empty({c.H, c.Sq, c.Sk}, DType::F32, kGpu) : Tensor();
  const float scale = with_bias ? 1.0f : 1.0f / std::sqrt(float(c.D));
  return ops::cuda::attention_uses_cudnn(q, k, v, scale, bias);
}

TEST(CudaAttentionPath, DitSelfAndCrossAttentionRunOnCudnn) {
  REQUIRE_GPU();
  // The op-coverage shapes (odd lengths, 512 text keys, head dim 64), then full Wan sizes: 1.3B at
  // 480p (32760 tokens), 14B at 720p (75600 tokens), and cross-attention.
  for (const Case& c : {Case{1, 2, 77, 77, 128, 128}, Case{2, 12, 1000, 1000, 128, 128},
                        Case{1, 2, 4097, 4097, 128, 128}, Case{2, 3, 333, 333, 128, 128},
                        Case{2, 12, 1000, 512, 128, 128}, Case{1, 2, 4097, 512, 128, 128},
                        Case{1, 12, 300, 300, 64, 64}, Case{1, 12, 32760, 32760, 128, 128},
                        Case{2, 12, 32760, 32760, 128, 128}, Case{1, 40, 75600, 75600, 128, 128},
                        Case{1, 12, 32760, 512, 128, 128}}) {
    EXPECT_TRUE(uses_cudnn(c)) << name(c);
  }
}

TEST(CudaAttentionPath, StridedQkvViewsOfAFusedProjectionRunOnCudnn) {
  REQUIRE_GPU();
  // q, k, v as views of one [B, S, 3, H, D] projection: strides (S·3HD, 3HD, D, 1).
  Tensor qkv = Tensor::empty({2, 257, 3, 4, 128}, DType::BF16, kGpu);
  EXPECT_TRUE(ops::cuda::attention_uses_cudnn(qkv.select(2, 0), qkv.select(2, 1), qkv.select(2, 2),
                                              1.0f / std::sqrt(128.0f)));
}

TEST(CudaAttentionPath, BiasWideHeadsAndF32TakeTheGemmPath) {
  REQUIRE_GPU();
  for (const Case& umt5 : {Case{2, 8, 77, 77, 64, 64}, Case{1, 4, 512, 512, 64, 64}}) {
    EXPECT_FALSE(uses_cudnn(umt5, DType::BF16, true)) << "UMT5 bias " << name(umt5);
  }
  EXPECT_FALSE(uses_cudnn({1, 1, 300, 300, 384, 384})) << "VAE head of 384";
  for (const Case& c : {Case{2, 3, 129, 65, 64, 48}, Case{1, 1, 300, 300, 384, 384}}) {
    EXPECT_FALSE(uses_cudnn(c, DType::F32)) << "F32 " << name(c);
  }
}

}  // namespace
}  // namespace fastvideo
