// The two CUDA attention paths behind ops::cuda::attention (src/ops/attention.h):
//  - cuDNN's fused flash-attention forward (FastVideo's TORCH_SDPA backend: PyTorch's SDPA runs
//    the same cuDNN kernels) for BF16/F16 q/k/v with head dims cuDNN takes, and a bias (UMT5's
//    position bias) in q's dtype where cuDNN plans one;
//  - a general path, batched cuBLASLt GEMMs around an fp32 row softmax, for everything else
//    (the VAE's single 384-wide head, F32 inputs, a bias cuDNN does not take).
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops::cuda {

// True when attention(q, k, v, scale, bias) runs on cuDNN: the case is one cuDNN's SDPA takes and
// its plan for these shapes was built (plans are cached, so asking costs one build per shape).
bool attention_uses_cudnn(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                          const Tensor& bias = {});

// cuDNN SDPA into `out` [B, Sq, H, Dv] (contiguous, q's dtype). Returns false, and does nothing,
// when cuDNN does not take the case (checked up front: dtypes, head dims, a bias) or failed to
// build a plan for these shapes (logged once per shape).
bool cudnn_sdpa(const Tensor& q, const Tensor& k, const Tensor& v, float scale, const Tensor& bias,
                const Tensor& out);

// softmax(q·kᵀ·scale + bias)·v into `out` [B, Sq, H, Dv] (contiguous, q's dtype) for any float
// dtype, head dims and an optional f32 bias [H, Sq, Sk]; query rows are chunked so the fp32 score
// buffer stays bounded.
void gemm_softmax_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                            const Tensor& bias, const Tensor& out);

}  // namespace fastvideo::ops::cuda
