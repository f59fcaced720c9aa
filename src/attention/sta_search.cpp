// The STA mask search: the recorder SLIDING_TILE_ATTN fills, and FastVideo's selection rule.
#include <algorithm>

#include "attention/sta_mask_strategy.h"
#include "attention/sta_search_recorder.h"
#include "fastvideo/error.h"
#include "fastvideo/log.h"

namespace fastvideo {

namespace {

std::string window_text(const StaTiles& w) {
  return str_cat("[", w[0], ", ", w[1], ", ", w[2], "]");
}

}  // namespace

namespace {

// The candidates cut to the grid, without those that cover it or repeat another (each change
// logged when `log_changes`); throws when none is left.
std::vector<StaTiles> fit_candidates(const std::vector<StaTiles>& candidates,
                                     const StaTiles& grid_tiles, bool log_changes) {
  std::vector<StaTiles> fitted;
  for (const StaTiles& c : candidates) {
    StaTiles cut = c;
    for (int a = 0; a < 3; ++a) cut[a] = std::min(cut[a], grid_tiles[a]);
    if (cut == grid_tiles) {
      if (log_changes) {
        log::info("STA mask search: candidate ", window_text(c), " covers the whole grid of ",
                  window_text(grid_tiles), " tiles (it would always win); dropped");
      }
    } else if (std::find(fitted.begin(), fitted.end(), cut) != fitted.end()) {
      if (log_changes) {
        log::info("STA mask search: candidate ", window_text(c), " cut to the grid of ",
                  window_text(grid_tiles), " tiles is ", window_text(cut),
                  ", already a candidate; dropped");
      }
    } else {
      if (cut != c && log_changes) {
        log::info("STA mask search: candidate ", window_text(c), " cut to ", window_text(cut),
                  " (the grid has ", window_text(grid_tiles), " tiles)");
      }
      fitted.push_back(cut);
    }
  }
  // One tile on every axis leaves no window to search: only a larger video helps.
  const bool one_tile =
      std::all_of(grid_tiles.begin(), grid_tiles.end(), [](int64_t t) { return t == 1; });
  FV_CHECK(!fitted.empty(), "STA mask search: no candidate window is smaller than the grid of ",
           window_text(grid_tiles), " tiles of 6x8x8",
           one_tile ? "; a grid of one tile has no smaller window: search a larger video (more "
                      "--num-frames, --height or --width)"
                    : "; give smaller --candidates, or search a larger video");
  return fitted;
}

void check_same_grid(const StaTiles& searched, const StaTiles& grid_tiles) {
  FV_CHECK(searched == grid_tiles, "STA mask search: this generation's grid has ",
           window_text(grid_tiles), " tiles, an earlier one's ", window_text(searched),
           "; search each size on its own");
}

}  // namespace

std::vector<StaTiles> StaSearchRecorder::candidates_for(const StaTiles& grid_tiles) {
  std::lock_guard lock(mutex_);
  if (grid_) {
    check_same_grid(*grid_, grid_tiles);
    return candidates_;
  }
  candidates_ = fit_candidates(candidates_, grid_tiles, true);
  grid_ = grid_tiles;
  return candidates_;
}

void StaSearchRecorder::check_fits(const StaTiles& grid_tiles) const {
  std::lock_guard lock(mutex_);
  if (grid_) {
    check_same_grid(*grid_, grid_tiles);
    return;
  }
  fit_candidates(candidates_, grid_tiles, false);
}

void StaSearchRecorder::add(int step, int layer, int head, const std::vector<double>& l2,
                            const StaTiles& full) {
  std::lock_guard lock(mutex_);
  full_ = full;
  Sum& sum = sums_[{step, layer, head}];
  if (sum.l2.empty()) sum.l2.assign(candidates_.size(), 0.0);
  for (size_t c = 0; c < l2.size(); ++c) sum.l2[c] += l2[c];
  ++sum.calls;
}

void StaSearchRecorder::clear() {
  std::lock_guard lock(mutex_);
  sums_.clear();
}

StaSearchLosses StaSearchRecorder::losses() const {
  std::lock_guard lock(mutex_);
  StaSearchLosses out;
  out.candidates = candidates_;
  out.full_window = full_;
  for (const auto& [at, sum] : sums_) {
    out.steps = std::max(out.steps, at[0] + 1);
    out.layers = std::max(out.layers, at[1] + 1);
    out.heads = std::max(out.heads, at[2] + 1);
  }
  const size_t C = candidates_.size();
  out.l2.assign(size_t(out.steps) * size_t(out.layers) * size_t(out.heads) * C, 0.0);
  for (const auto& [at, sum] : sums_) {
    const size_t base =
        ((size_t(at[0]) * size_t(out.layers) + size_t(at[1])) * size_t(out.heads) + size_t(at[2])) *
        C;
    for (size_t c = 0; c < C; ++c) out.l2[base + c] = sum.l2[c] / sum.calls;
  }
  return out;
}

StaSearchSummary write_sta_mask_strategy(const std::vector<StaSearchLosses>& runs, int skip_steps,
                                         const std::filesystem::path& path) {
  FV_CHECK(!runs.empty(), "STA mask search: no runs to choose windows from");
  const StaSearchLosses& first = runs.front();
  FV_CHECK(!first.candidates.empty() && first.steps > 0,
           "STA mask search: the run recorded no "
           "self-attention (was SLIDING_TILE_ATTN the self-attention backend?)");
  FV_CHECK(skip_steps >= 0, "STA mask search: skip_time_steps ", skip_steps, " is negative");
  for (const StaSearchLosses& r : runs) {
    FV_CHECK(r.candidates == first.candidates && r.full_window == first.full_window &&
                 r.steps == first.steps && r.layers == first.layers && r.heads == first.heads,
             "STA mask search: the runs differ in candidates, grid, steps, layers or heads; search "
             "every prompt at one size and step count");
  }
  const size_t C = first.candidates.size();
  const size_t losses = size_t(first.steps) * size_t(first.layers) * size_t(first.heads) * C;
  for (const StaSearchLosses& r : runs) {
    FV_CHECK(r.layers > 0 && r.heads > 0 && r.l2.size() == losses, "STA mask search: a run holds ",
             r.l2.size(), " losses for ", r.steps, " steps x ", r.layers, " layers x ", r.heads,
             " heads x ", C, " candidates; expected one per (step, layer, head, candidate)");
  }
  const auto whole_tiles = [](const StaTiles& w) { return w[0] > 0 && w[1] > 0 && w[2] > 0; };
  FV_CHECK(whole_tiles(first.full_window), "STA mask search: the full window ",
           first.full_window[0], "x", first.full_window[1], "x", first.full_window[2],
           " is not a positive number of tiles on every axis");
  for (const StaTiles& c : first.candidates) {
    FV_CHECK(whole_tiles(c), "STA mask search: candidate window ", c[0], "x", c[1], "x", c[2],
             " is not a positive number of tiles on every axis");
  }
  const StaTiles& full = first.full_window;
  auto volume = [](const StaTiles& w) { return double(w[0]) * w[1] * w[2]; };
  StaMaskStrategy strategy;
  StaSearchSummary summary;
  double kept = 0, total = 0;
  for (int s = 0; s < first.steps; ++s)
    for (int l = 0; l < first.layers; ++l)
      for (int h = 0; h < first.heads; ++h) {
        StaTiles chosen = full;
        if (s >= skip_steps) {
          const size_t base =
              ((size_t(s) * size_t(first.layers) + size_t(l)) * size_t(first.heads) + size_t(h)) *
              C;
          size_t best = 0;
          double best_l2 = 0;
          for (size_t c = 0; c < C; ++c) {
            double mean = 0;
            for (const StaSearchLosses& r : runs) mean += r.l2[base + c];
            mean /= double(runs.size());
            if (c == 0 || mean < best_l2) best = c, best_l2 = mean;
          }
          chosen = first.candidates[best];
        }
        strategy.set(s, l, h, {chosen[0], chosen[1], chosen[2]});
        kept += volume(chosen);
        total += volume(full);
        ++summary.window_counts[window_text(chosen)];
      }
  summary.sparsity = 1.0 - kept / total;
  strategy.write(path);
  return summary;
}

}  // namespace fastvideo
