// SLA_ATTN: sparse-linear attention with FastVideo's semantics (fastvideo.md §4.3;
// ops/sparse_linear_attention.h), self-attention only. Its per-step metadata is the topk_ratio;
// its extra weight is each layer's proj_l, which the transformer passes to run() (zero where the
// checkpoint has none: then SLA is pure block-sparse attention). It runs on the CPU (f32) and on
// GPUs of compute capability 8.0 or newer (BF16, head_dim 128;
// ops/cuda/sparse_linear_attention.cpp).
// SAGE_SLA_ATTN (fastvideo.md §4.4) is the same backend with SageSLA's sparse branch: SAGE_ATTN's
// quantized rule over 64-row query blocks and 128-key blocks, topk_ratio 0.5 by default; on the CPU
// and on Hopper (sm_90: SAGE_ATTN's sparse Hopper kernel over the selected blocks).
#pragma once

#include "attention/attention_backend.h"
#include "ops/sparse_linear_attention.h"

namespace fastvideo {

struct SlaMetadata final : AttentionMetadata {
  SlaConfig config;
  std::optional<std::string> graph_key() const override;
};

enum class SlaVariant { Sla, SageSla };

class SlaAttnBackend final : public AttentionBackend {
 public:
  explicit SlaAttnBackend(SlaVariant variant) : variant_(variant) {}
  std::string_view name() const override {
    return variant_ == SlaVariant::Sla ? "SLA_ATTN" : "SAGE_SLA_ATTN";
  }
  const AttentionCapabilities& capabilities() const override;
  AttentionBackendStatus status(const AttentionDevice& device) const override;
  // Sparse attention changes the result: it runs only when asked for by name.
  bool chosen_automatically_on(const AttentionDevice&) const override { return false; }

  // FastVideo's SLA defaults (BLKQ 128, BLKK 64, softmax feature map), or SageSLA's
  // (sage_sla_config), with step.topk_ratio.
  std::unique_ptr<AttentionMetadata> build_metadata(const AttentionStepInfo& step) const override;
  void check_step(const AttentionStepInfo& step) const override;

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override;

 private:
  SlaVariant variant_;
};

}  // namespace fastvideo
