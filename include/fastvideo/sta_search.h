// FastVideo's STA mask search (its STA_searching then STA_tuning modes, fastvideo.md §4.1): a
// generation with SLIDING_TILE_ATTN and GeneratorOptions::sta_search_candidates runs every
// self-attention with the full window (so the video is the dense one) and records, per denoising
// step, layer, head and candidate window, the mean squared difference between the candidate's
// output and the full window's. write_sta_mask_strategy turns the runs of one or more prompts into
// the mask-strategy JSON that SLIDING_TILE_ATTN reads (FASTVIDEO_ATTENTION_CONFIG).
#pragma once

#include <array>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fastvideo {

using StaTiles = std::array<int, 3>;  // a window in tiles along t, h, w

struct StaSearchLosses {
  std::vector<StaTiles> candidates;
  StaTiles full_window{};  // every tile of the grid searched on
  int steps = 0, layers = 0, heads = 0;
  // [steps][layers][heads][candidates]: mean of (candidate − full)² over batch, tokens and
  // channels, averaged over that step's and layer's self-attention calls (the conditional and the
  // unconditional pass, as FastVideo's STA_tuning_cfg combines them).
  std::vector<double> l2;
};

struct StaSearchSummary {
  double sparsity = 0;                       // 1 − kept tiles / full-window tiles, over all heads
  std::map<std::string, int> window_counts;  // "[t, h, w]" -> heads that got it
};

// Averages the runs (each one prompt's; same candidates, grid and sizes), then gives every
// (step, layer, head) the full window for steps below skip_steps (FastVideo's skip_time_steps,
// 12 of 50 by default) and otherwise the candidate of least mean L2 (the first on ties), and
// writes FastVideo's JSON to `path` (complete or not at all).
StaSearchSummary write_sta_mask_strategy(const std::vector<StaSearchLosses>& runs, int skip_steps,
                                         const std::filesystem::path& path);

}  // namespace fastvideo
