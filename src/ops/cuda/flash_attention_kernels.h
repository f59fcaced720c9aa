// The two FLASH_ATTN kernels as flash_attention.cpp plans and runs them: what each needs of the
// device, its launch grid and its launch. Private to the FLASH_ATTN sources.
#pragma once

#include <cstddef>

#include "ops/cuda/flash_attention.h"

namespace fastvideo::ops::cuda {

struct FlashKernel {
  const char* name;  // "the Hopper kernel"
  int min_major, min_minor;
  bool exact_capability;  // only min_major.min_minor (an sm_90a kernel), else that or newer
  size_t shared_memory_bytes;
  // Sets the kernel's function attributes on the current device; at planning, once per plan.
  void (*prepare)();
  // CTAs per launch for a plan's shape on a device of `sm_count` SMs.
  int (*grid)(const FlashAttentionPlan& plan, int sm_count);
  // Launches on the current device's stream; q, k, v fit the plan, out [B, Sq, H, 128] BF16 and
  // lse ([B, H, Sq] F32, or null) are allocated.
  void (*launch)(const FlashAttentionPlan& plan, const Tensor& q, const Tensor& k, const Tensor& v,
                 float scale, const Tensor& out, float* lse);
};

const FlashKernel& hopper_flash_kernel();
const FlashKernel& portable_flash_kernel();

}  // namespace fastvideo::ops::cuda
