// SLIDING_TILE_ATTN: Sliding Tile Attention with FastVideo's semantics (fastvideo.md §4.1;
// ops/sliding_tile_attention.h), self-attention only. Each head of each layer attends within a
// window of 6×8×8-token tiles: the window of (step, layer, head) from the mask strategy that
// FASTVIDEO_ATTENTION_CONFIG names (FastVideo's JSON format, sta_mask_strategy.h), or, without
// one, kStaDefaultWindow for every head (cut to the grid). On the CPU in f32; on sm_80+ GPUs in
// bf16 through the block-sparse kernel (ops/tile_list_self_attention.h).
#pragma once

#include <memory>

#include "attention/attention_backend.h"
#include "attention/sta_mask_strategy.h"
#include "attention/sta_search_recorder.h"

namespace fastvideo {

// Without a mask strategy: 3 tiles along each axis (at 480p, 27 of the 112 tiles).
inline constexpr StaWindow kStaDefaultWindow = {3, 3, 3};

struct StaMetadata final : AttentionMetadata {
  std::shared_ptr<const TokenTiling> tiling;
  int step = 0;
  std::shared_ptr<const StaMaskStrategy> strategy;  // null: default_window for every head
  StaWindow default_window{};
  StaSearchRecorder* search = nullptr;  // a mask search: full windows run, candidates recorded
  // Windows may change with every step, and the search records on the host: never replayed.
  std::optional<std::string> graph_key() const override { return std::nullopt; }
};

class SlidingTileAttnBackend final : public AttentionBackend {
 public:
  std::string_view name() const override { return "SLIDING_TILE_ATTN"; }
  const AttentionCapabilities& capabilities() const override;
  AttentionBackendStatus status(const AttentionDevice& device) const override;
  // Sparse attention changes the result: it runs only when asked for by name.
  bool chosen_automatically_on(const AttentionDevice&) const override { return false; }
  std::string_view why_not_replayable() const override {
    return "its tile lists are built on the host for every step's windows";
  }

  // The step's tiling and index, and the mask strategy of FASTVIDEO_ATTENTION_CONFIG (read once
  // per path and kept).
  std::unique_ptr<AttentionMetadata> build_metadata(const AttentionStepInfo& step) const override;
  void check_step(const AttentionStepInfo& step) const override;

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override;
};

}  // namespace fastvideo
