// The record of an STA mask search while a generation runs (include/fastvideo/sta_search.h):
// SLIDING_TILE_ATTN adds each call's per-head losses; the pipeline hands the averages back in the
// result.
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "fastvideo/sta_search.h"

namespace fastvideo {

class StaSearchRecorder {
 public:
  explicit StaSearchRecorder(std::vector<StaTiles> candidates) : candidates_(std::move(candidates)) {}

  const std::vector<StaTiles>& candidates() const { return candidates_; }
  // l2: one per candidate, for (step, layer, head); full: the grid's full window.
  void add(int step, int layer, int head, const std::vector<double>& l2, const StaTiles& full);
  void clear();
  // The averages so far, dense over every step, layer and head seen.
  StaSearchLosses losses() const;

 private:
  std::vector<StaTiles> candidates_;
  mutable std::mutex mutex_;
  StaTiles full_{};
  struct Sum {
    std::vector<double> l2;
    int calls = 0;
  };
  std::map<std::array<int, 3>, Sum> sums_;
};

}  // namespace fastvideo
