// VIDEO_SPARSE_ATTN: Video Sparse Attention with FastVideo's semantics (fastvideo.md §3;
// ops/video_sparse_attention.h), self-attention only. Its per-step metadata is the tiling of the
// step's token grid (cached per grid) and the top-k its sparsity gives; its extra weight is the
// per-block gate to_gate_compress, whose output the transformer passes to run(). Runs on the CPU
// (f32) and on NVIDIA GPUs from sm_80 (bf16, head dim 128).
#pragma once

#include <memory>

#include "attention/attention_backend.h"
#include "ops/video_sparse_attention.h"

namespace fastvideo {

// The transformer keeps its rows in VSA's tile order through the blocks (tiling: tile_order), so
// q, k and v arrive with each tile's tokens on consecutive rows.
struct VsaMetadata final : AttentionMetadata {
  std::shared_ptr<const VsaTiling> tiling;
  double sparsity = 0;
  int64_t topk = 0;
  // The tiling follows the shape, which compile mode keys on already.
  std::optional<std::string> graph_key() const override { return str_cat("VSA topk ", topk); }
  const TokenTiling* row_order() const override { return tiling.get(); }
};

class VideoSparseAttnBackend final : public AttentionBackend {
 public:
  std::string_view name() const override { return "VIDEO_SPARSE_ATTN"; }
  const AttentionCapabilities& capabilities() const override;
  AttentionBackendStatus status(const AttentionDevice& device) const override;
  // Sparse attention changes the result: it runs only when asked for by name.
  bool chosen_automatically_on(const AttentionDevice&) const override { return false; }

  // The tiling of step.grid and topk = max(1, min(ceil((1 - sparsity)·N), N)); a sparsity outside
  // [0, 1) is refused naming the value.
  std::unique_ptr<AttentionMetadata> build_metadata(const AttentionStepInfo& step) const override;

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override;
};

}  // namespace fastvideo
