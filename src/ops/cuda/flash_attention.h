// FLASH_ATTN: the engine's own dense attention kernel for Hopper (sm_90a), FlashAttention-3 style
// (attention-algorithms.md §1.3). CUDA-only; callers check flash_attention_supported first and
// fall back to ops::attention (cuDNN / GEMM path) otherwise.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops::cuda {

// softmax(q·kᵀ·scale)·v for BF16 q [B, Sq, H, 128], k/v [B, Sk, H, 128] (contiguous, one CUDA
// device) -> [B, Sq, H, 128] BF16, accumulated in fp32. When `lse` is given it receives the
// natural-log log-sum-exp of the scaled scores, [B, H, Sq] F32.
Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                       Tensor* lse = nullptr);

// True when flash_attention takes these inputs: BF16, contiguous, head dim 128, matching batch and
// heads, Sq, Sk >= 1, on a compute-capability 9.0 device.
bool flash_attention_supported(const Tensor& q, const Tensor& k, const Tensor& v);

}  // namespace fastvideo::ops::cuda
