// FLASH_ATTN: our own FlashAttention-class kernels (attention-algorithms.md §1), bf16 in, fp32
// accumulation, head_dim 128: the Hopper kernel (TMA + wgmma, FA3 style) on sm_90 and the portable
// one (mma.sync + cp.async, FA2 style) on every other GPU from sm_80. Where neither runs the
// backend says why; it never falls back to another backend silently.
#pragma once

#include "attention/attention_backend.h"

namespace fastvideo {

class FlashAttnBackend final : public AttentionBackend {
 public:
  std::string_view name() const override { return "FLASH_ATTN"; }
  const AttentionCapabilities& capabilities() const override;
  AttentionBackendStatus status(const AttentionDevice& device) const override;
  bool chosen_automatically_on(const AttentionDevice& device) const override;

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override;
};

}  // namespace fastvideo
