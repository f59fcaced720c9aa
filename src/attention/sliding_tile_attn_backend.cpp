#include "attention/sliding_tile_attn_backend.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/env.h"
#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// Each file parsed once while it is unchanged (a searched strategy can hold 50 steps × 40 layers ×
// 40 heads): keyed by path, size and modification time, so a rewritten file is read again.
std::shared_ptr<const StaMaskStrategy> strategy_at(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const auto stamp = std::filesystem::last_write_time(path, ec).time_since_epoch().count();
  if (ec) return std::make_shared<const StaMaskStrategy>(StaMaskStrategy::from_file(path));
  static std::mutex mutex;
  static std::map<std::tuple<std::string, uintmax_t, int64_t>,
                  std::shared_ptr<const StaMaskStrategy>>
      cache;
  std::lock_guard lock(mutex);
  auto& entry = cache[{path, size, int64_t(stamp)}];
  if (!entry) entry = std::make_shared<const StaMaskStrategy>(StaMaskStrategy::from_file(path));
  return entry;
}

// A mask-search call: every head with the full window (the output), and each candidate window's
// output compared with it per head (mean of the squared difference over batch, tokens, channels).
Tensor search_step(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                   const StaMetadata& md, int layer, int first_head) {
  const TokenTiling& tiling = *md.tiling;
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const std::vector<StaWindow> full(size_t(H), sta_full_window(tiling));
  const Tensor out = ops::sliding_tile_attention(q, k, v, tiling, full, scale);
  const Tensor reference = out.to(DType::F32).to(Device::cpu()).contiguous();
  std::vector<std::vector<double>> l2(static_cast<size_t>(H));
  const StaWindow f = sta_full_window(tiling);
  for (const StaTiles& c : md.search->candidates_for({int(f[0]), int(f[1]), int(f[2])})) {
    const StaWindow w{c[0], c[1], c[2]};
    const Tensor got =
        ops::sliding_tile_attention(q, k, v, tiling, std::vector<StaWindow>(size_t(H), w), scale)
            .to(DType::F32)
            .to(Device::cpu())
            .contiguous();
    for (int64_t h = 0; h < H; ++h) {
      double sum = 0;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t s = 0; s < S; ++s) {
          const int64_t at = ((b * S + s) * H + h) * D;
          for (int64_t d = 0; d < D; ++d) {
            const double diff = double(got.data<float>()[at + d]) - reference.data<float>()[at + d];
            sum += diff * diff;
          }
        }
      l2[size_t(h)].push_back(sum / double(B * S * D));
    }
  }
  for (int64_t h = 0; h < H; ++h)
    md.search->add(md.step, layer, first_head + int(h), l2[size_t(h)],
                   {int(f[0]), int(f[1]), int(f[2])});
  return out;
}

}  // namespace

const AttentionCapabilities& SlidingTileAttnBackend::capabilities() const {
  return tile_list_capabilities();
}

AttentionBackendStatus SlidingTileAttnBackend::status(const AttentionDevice& device) const {
  return tile_list_status(name(), device);
}

std::unique_ptr<AttentionMetadata> SlidingTileAttnBackend::build_metadata(
    const AttentionStepInfo& step) const {
  auto md = std::make_unique<StaMetadata>();
  md->tiling = sta_tiling_for(step.grid);
  md->step = step.step;
  md->search = step.sta_search;
  if (const auto path = env_string(kAttentionConfigEnv); path && !path->empty()) {
    md->strategy = strategy_at(*path);
  }
  for (int a = 0; a < 3; ++a)
    md->default_window[size_t(a)] =
        std::min(kStaDefaultWindow[size_t(a)], md->tiling->tiles[size_t(a)]);
  return md;
}

void SlidingTileAttnBackend::check_step(const AttentionStepInfo& step) const {
  if (step.sta_search) {  // the search's windows, not the strategy's
    const StaWindow f = sta_full_window(*sta_tiling_for(step.grid));
    step.sta_search->check_fits({int(f[0]), int(f[1]), int(f[2])});
    return;
  }
  const auto path = env_string(kAttentionConfigEnv);
  if (!path || path->empty()) return;  // the default window, cut to the grid: always fits
  const auto strategy = strategy_at(*path);
  const auto tiling = sta_tiling_for(step.grid);
  try {
    // Every window the run will look up, as forward() looks them up.
    for (int s = 0; s < step.steps; ++s)
      for (int l = 0; l < step.layers; ++l)
        for (int h = 0; h < step.heads; ++h) {
          const std::string problem = sta_window_problem(*tiling, strategy->window(s, l, h));
          FV_CHECK(problem.empty(), "step ", s, ", layer ", l, ", head ", h, ": ", problem);
        }
  } catch (const Error& e) {
    e.rethrow_with_context("attention backend SLIDING_TILE_ATTN");
  }
}

Tensor SlidingTileAttnBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                       float scale, const AttentionMetadata* metadata,
                                       const AttentionExtras& extras) const {
  const auto* md = dynamic_cast<const StaMetadata*>(metadata);
  FV_CHECK(md != nullptr,
           "SLIDING_TILE_ATTN needs the step's metadata (its token grid and step): it runs the "
           "transformer's self-attention only");
  try {
    if (md->search) return search_step(q, k, v, scale, *md, extras.layer, extras.first_head);
    std::vector<StaWindow> windows;
    for (int h = extras.first_head; h < extras.first_head + int(q.size(2)); ++h) {
      const StaWindow w =
          md->strategy ? md->strategy->window(md->step, extras.layer, h) : md->default_window;
      const std::string problem = sta_window_problem(*md->tiling, w);
      FV_CHECK(problem.empty(), "step ", md->step, ", layer ", extras.layer, ", head ", h, ": ",
               problem);
      windows.push_back(w);
    }
    return ops::sliding_tile_attention(q, k, v, *md->tiling, windows, scale);
  } catch (const Error& e) {
    e.rethrow_with_context("attention backend SLIDING_TILE_ATTN");
  }
}

}  // namespace fastvideo
