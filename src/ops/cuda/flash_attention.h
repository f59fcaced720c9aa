// FLASH_ATTN: the engine's own dense attention kernels. Two implementations of one contract:
//  - Hopper (sm_90a): FlashAttention-3 style, TMA + wgmma + warp specialisation
//    (attention-algorithms.md §1.3), src/ops/cuda/flash_attention_hopper.cu;
//  - Portable (any sm_80+ GPU, the fallback on Hopper): FlashAttention-2 style, mma.sync +
//    cp.async (attention-algorithms.md §1.2), src/ops/cuda/flash_attention_portable.cu.
// CUDA-only; callers check flash_attention_supported first and fall back to ops::attention (cuDNN
// / GEMM path) otherwise.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops::cuda {

// Which FLASH_ATTN kernel runs. Automatic: Hopper where flash_attention_hopper_supported holds
// (sm_90), otherwise Portable.
enum class FlashAttentionKernel { Automatic, Hopper, Portable };

// softmax(q·kᵀ·scale)·v for BF16 q [B, Sq, H, 128], k/v [B, Sk, H, 128] (contiguous, one CUDA
// device) -> [B, Sq, H, 128] BF16, accumulated in fp32. When `lse` is given it receives the
// natural-log log-sum-exp of the scaled scores, [B, H, Sq] F32. Throws when the chosen kernel does
// not take these inputs (see flash_attention_supported).
Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                       Tensor* lse = nullptr,
                       FlashAttentionKernel kernel = FlashAttentionKernel::Automatic);

// True when flash_attention with `kernel` takes these inputs: BF16, contiguous, head dim 128,
// matching batch and heads, Sq, Sk >= 1, on a device that kernel runs on (Hopper: compute
// capability 9.0; Portable: 8.0 or newer; Automatic: either).
bool flash_attention_supported(const Tensor& q, const Tensor& k, const Tensor& v,
                               FlashAttentionKernel kernel = FlashAttentionKernel::Automatic);

// The inputs both kernels take, whatever the device: BF16, contiguous, 16-byte aligned, head dim
// 128, matching batch and heads, 1 <= Sq, Sk <= 2^30, all on one CUDA device.
bool flash_attention_contract_holds(const Tensor& q, const Tensor& k, const Tensor& v);

// The Hopper kernel alone: the contract above on a compute-capability 9.0 device.
Tensor flash_attention_hopper(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                              Tensor* lse = nullptr);
bool flash_attention_hopper_supported(const Tensor& q, const Tensor& k, const Tensor& v);

// The portable kernel alone: the contract above on any compute-capability 8.0+ device whose
// per-block shared-memory opt-in holds its 96 KiB.
Tensor flash_attention_portable(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                                Tensor* lse = nullptr);
bool flash_attention_portable_supported(const Tensor& q, const Tensor& k, const Tensor& v);

}  // namespace fastvideo::ops::cuda
