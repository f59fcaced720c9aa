// SAGE_ATTN: SageAttention2's quantized attention (INT8 Q·Kᵀ with K smoothing and per-thread
// scales, FP8 E4M3 P̃·V; ops/sage_attention.h, attention-algorithms.md §5.2–5.3), for the DiT's
// self-attention only: cross-attention, the text encoder and the VAE stay dense (fastvideo.md
// §4.5). It is lossy, so automatic selection never picks it. No per-step metadata: the scales
// come from each call's q, k, v. It runs on the CPU (the contract, f32) and on sm_80 .. sm_90
// GPUs in BF16 with head_dim 64 or 128 (ops/cuda/sage_attention.cpp: the Hopper kernel on sm_90,
// the portable one below); Blackwell is refused, naming SAGE_ATTN_THREE.
#pragma once

#include "attention/attention_backend.h"

namespace fastvideo {

class SageAttnBackend final : public AttentionBackend {
 public:
  std::string_view name() const override { return "SAGE_ATTN"; }
  const AttentionCapabilities& capabilities() const override;
  AttentionBackendStatus status(const AttentionDevice& device) const override;
  // Quantized attention changes the result: it runs only when asked for by name.
  bool chosen_automatically_on(const AttentionDevice&) const override { return false; }

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override;
};

}  // namespace fastvideo
