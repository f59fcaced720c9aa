// VMOBA_ATTN (fastvideo.md §4.2): Video MoBA self-attention, configured by FastVideo's
// moba_config_path JSON (vmoba_config.h). Per layer the chunking cycles temporal → spatial →
// spatio-temporal; each query chunk attends to its own chunk and the chunks its gates select
// (ops/video_moba_attention.h). The first first_full_step denoising steps attend densely, as the
// config's key says (FastVideo's main reads the key but never acts on it). On the CPU in f32; on
// sm_80+ GPUs the gates on the GPU, the selection on the host, the attention on the block-sparse
// kernel (ops/tile_list_self_attention.h).
#pragma once

#include <memory>

#include "attention/attention_backend.h"
#include "attention/vmoba_config.h"

namespace fastvideo {

inline constexpr std::string_view kVmobaBackendName = "VMOBA_ATTN";

struct VmobaMetadata final : AttentionMetadata {
  std::shared_ptr<const VmobaConfig> config;
  std::array<int64_t, 3> grid{};
  int step = 0;
  bool dense() const { return step < config->first_full_step; }
  // Its selection runs on the host in this version: never replayed.
  std::optional<std::string> graph_key() const override { return std::nullopt; }
};

class VmobaAttnBackend final : public AttentionBackend {
 public:
  std::string_view name() const override { return kVmobaBackendName; }
  const AttentionCapabilities& capabilities() const override;
  AttentionBackendStatus status(const AttentionDevice& device) const override;
  // Sparse attention changes the result: it runs only when asked for by name.
  bool chosen_automatically_on(const AttentionDevice&) const override { return false; }
  std::string_view why_not_replayable() const override {
    return "its chunk selection runs on the host in every step";
  }

  // Needs the step's moba_config (generator.pipeline.experimental.moba_config_path); without one,
  // an error saying so.
  std::unique_ptr<AttentionMetadata> build_metadata(const AttentionStepInfo& step) const override;

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override;
};

}  // namespace fastvideo
