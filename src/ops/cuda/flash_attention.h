// FLASH_ATTN: the engine's own dense attention kernels. Two implementations of one contract:
//  - Hopper (sm_90a): FlashAttention-3 style, TMA + wgmma + warp specialisation
//    (attention-algorithms.md §1.3), src/ops/cuda/flash_attention_hopper.cu;
//  - Portable (any sm_80+ GPU, the fallback on Hopper): FlashAttention-2 style, mma.sync +
//    cp.async (attention-algorithms.md §1.2), src/ops/cuda/flash_attention_portable.cu.
// Planned once per device and shape, run per call (FlashInfer's plan/run split). CUDA-only.
// Inputs a kernel cannot take are refused with the reason (never a silent fallback);
// flash_attention_unsupported_reason tells beforehand.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace fastvideo::ops::cuda {

// Which FLASH_ATTN kernel runs. Automatic: Hopper where its device needs hold (sm_90), otherwise
// Portable.
enum class FlashAttentionKernel { Automatic, Hopper, Portable };

// What FLASH_ATTN decides once per device and shape: the kernel (its contract and device needs
// checked) and its launch grid. A run then only checks that its tensors fit the plan.
struct FlashAttentionPlan {
  FlashAttentionKernel kernel = FlashAttentionKernel::Automatic;  // Hopper or Portable once planned
  int device = 0;
  int64_t batch = 0, heads = 0, q_len = 0, kv_len = 0;
  int grid = 0;  // CTAs per launch
};

// The head dim both kernels are built for.
inline constexpr int kFlashHeadDim = 128;

// The contract: q [B, Sq, H, 128], k/v [B, Sk, H, 128], BF16, contiguous, 16-byte aligned, all on
// one CUDA device, 1 <= Sq, Sk < 2^30; the kernel's device needs (Hopper: compute capability 9.0;
// Portable: 8.0 or newer; both: their shared memory per block).

// The plan for these inputs and `kernel`, built on first use for their device, shape and kernel
// choice, then cached. Throws naming the first condition that fails and its values.
const FlashAttentionPlan& plan_flash_attention(
    const Tensor& q, const Tensor& k, const Tensor& v,
    FlashAttentionKernel kernel = FlashAttentionKernel::Automatic);

// softmax(q·kᵀ·scale)·v -> [B, Sq, H, 128] BF16, accumulated in fp32, for q, k, v of the plan's
// device and shape. When `lse` is given it receives the natural-log log-sum-exp of the scaled
// scores, [B, H, Sq] F32.
Tensor flash_attention(const FlashAttentionPlan& plan, const Tensor& q, const Tensor& k,
                       const Tensor& v, float scale, Tensor* lse = nullptr);

// plan_flash_attention (cached), then the run.
Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                       Tensor* lse = nullptr,
                       FlashAttentionKernel kernel = FlashAttentionKernel::Automatic);

// Why no plan exists for these inputs and `kernel` (the first condition that fails, with its
// values); empty when one does.
std::string flash_attention_unsupported_reason(
    const Tensor& q, const Tensor& k, const Tensor& v,
    FlashAttentionKernel kernel = FlashAttentionKernel::Automatic);
bool flash_attention_supported(const Tensor& q, const Tensor& k, const Tensor& v,
                               FlashAttentionKernel kernel = FlashAttentionKernel::Automatic);

}  // namespace fastvideo::ops::cuda
