// FLASH_ATTN: our own FlashAttention-class kernel (issue 4 item 3; attention-algorithms.md §1),
// bf16/f16 in, fp32 accumulation, on sm_80 or newer. Until the kernel is in this version the
// backend says so; it never falls back to another backend silently.
#pragma once

#include "attention/attention_backend.h"

namespace fastvideo {

// THE SWITCH: whether ops::cuda::flash_attention is in this build and may run on `device`. Flip
// kFlashAttentionKernelInThisVersion in flash_attn_backend.cpp when the kernel lands.
bool flash_attention_kernel_available(const AttentionDevice& device);

class FlashAttnBackend final : public AttentionBackend {
 public:
  std::string_view name() const override { return "FLASH_ATTN"; }
  const AttentionCapabilities& capabilities() const override;
  AttentionBackendStatus status(const AttentionDevice& device) const override;

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata) const override;
};

}  // namespace fastvideo
