// FLASH_ATTN: the engine's own dense attention kernels. Two implementations of one contract:
//  - Hopper (sm_90a): FlashAttention-3 style, TMA + wgmma + warp specialisation
//    (attention-algorithms.md §1.3), src/ops/cuda/flash_attention_hopper.cu;
//  - Portable (any sm_80+ GPU, the fallback on Hopper): FlashAttention-2 style, mma.sync +
//    cp.async (attention-algorithms.md §1.2), src/ops/cuda/flash_attention_portable.cu.
// CUDA-only. Inputs a kernel cannot take are refused with the reason (never a silent fallback);
// flash_attention_supported / flash_attention_unsupported_reason tell beforehand.
#pragma once

#include <string>

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

// Why flash_attention with `kernel` cannot take these inputs, naming the first condition that
// fails and its values; empty when it can. The contract: BF16, contiguous, 16-byte aligned, head
// dim 128, matching batch and heads, 1 <= Sq, Sk < 2^30, all on one CUDA device that the kernel
// runs on (Hopper: compute capability 9.0; Portable: 8.0 or newer; Automatic: either).
std::string flash_attention_unsupported_reason(
    const Tensor& q, const Tensor& k, const Tensor& v,
    FlashAttentionKernel kernel = FlashAttentionKernel::Automatic);
bool flash_attention_supported(const Tensor& q, const Tensor& k, const Tensor& v,
                               FlashAttentionKernel kernel = FlashAttentionKernel::Automatic);

// What one kernel needs of the device besides the inputs' contract.
struct FlashKernelNeeds {
  const char* kernel;  // "the Hopper kernel"
  int min_major, min_minor;
  bool exact_capability;  // only min_major.min_minor (an sm_90a kernel), else that or newer
  size_t shared_memory_bytes;
};

// Why `kernel_needs` rules these inputs out on their device (the contract above, then the compute
// capability and the per-block shared-memory opt-in); empty when the kernel takes them.
std::string flash_attention_violation(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const FlashKernelNeeds& kernel_needs);

// The start of each kernel's entry: refuses a non-empty `violation` and a scale that is not
// positive and finite (messages start with `entry`), makes q's device current, allocates the F32
// LSE [B, H, Sq] when `lse` is given and returns the BF16 output [B, Sq, H, 128].
Tensor flash_attention_outputs(const char* entry, const std::string& violation, const Tensor& q,
                               float scale, Tensor* lse);

// The Hopper kernel alone (compute capability 9.0).
Tensor flash_attention_hopper(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                              Tensor* lse = nullptr);
std::string flash_attention_hopper_unsupported_reason(const Tensor& q, const Tensor& k,
                                                      const Tensor& v);

// The portable kernel alone (compute capability 8.0 or newer, with a per-block shared-memory
// opt-in that holds its 96 KiB).
Tensor flash_attention_portable(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                                Tensor* lse = nullptr);
std::string flash_attention_portable_unsupported_reason(const Tensor& q, const Tensor& k,
                                                        const Tensor& v);

}  // namespace fastvideo::ops::cuda
