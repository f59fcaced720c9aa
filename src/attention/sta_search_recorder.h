// The record of an STA mask search while a generation runs (include/fastvideo/sta_search.h):
// SLIDING_TILE_ATTN adds each call's per-head losses; the pipeline hands the averages back in the
// result.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "fastvideo/sta_search.h"

namespace fastvideo {

class StaSearchRecorder {
 public:
  explicit StaSearchRecorder(std::vector<StaTiles> candidates)
      : candidates_(std::move(candidates)) {}

  // The candidates for a grid of `grid_tiles` tiles, fixed at the first call: each cut to the grid
  // along every axis (FastVideo's default candidates are for 720p; a 480p grid has 4x4x7 tiles),
  // and those that would then be the full window (always the least loss) or repeat another
  // dropped, each change logged. Throws when none is left, or when a later grid differs.
  std::vector<StaTiles> candidates_for(const StaTiles& grid_tiles);
  // Throws as candidates_for would for this grid, without fixing it or logging: the check before
  // any work (SlidingTileAttnBackend::check_step).
  void check_fits(const StaTiles& grid_tiles) const;
  // l2: one per candidate, for (step, layer, head); full: the grid's full window.
  void add(int step, int layer, int head, const std::vector<double>& l2, const StaTiles& full);
  void clear();
  // The averages so far, dense over every step, layer and head seen.
  StaSearchLosses losses() const;

 private:
  std::vector<StaTiles> candidates_;
  std::optional<StaTiles> grid_;  // the grid candidates_ was cut to, once a call has come
  mutable std::mutex mutex_;
  StaTiles full_{};
  struct Sum {
    std::vector<double> l2;
    int calls = 0;
  };
  std::map<std::array<int, 3>, Sum> sums_;
};

}  // namespace fastvideo
