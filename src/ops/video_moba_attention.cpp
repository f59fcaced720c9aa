#include "ops/video_moba_attention.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "fastvideo/error.h"
#include "ops/dispatch.h"
#include "ops/tile_list_self_attention.h"
#ifdef FASTVIDEO_HAVE_CUDA
#include "ops/cuda/vmoba_kernels.h"
#endif

namespace fastvideo::ops {

namespace {

constexpr double kEps = 1e-6;  // FastVideo's epsilon in the threshold rule

// Per-chunk means over the valid tokens of each tile: [B, H, N, D] as doubles.
std::vector<double> chunk_means(const Tensor& x, const TokenTiling& tiling) {
  const Tensor c = x.to(DType::F32).contiguous();
  const int64_t B = c.size(0), S = c.size(1), H = c.size(2), D = c.size(3), N = tiling.num_tiles;
  std::vector<double> mean(size_t(B * H * N * D), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < N; ++i) {
      const int64_t first = i * tiling.tile_slots, count = tiling.tile_sizes[size_t(i)];
      for (int64_t slot = first; slot < first + count; ++slot) {
        const int64_t s = tiling.token_of_slot[size_t(slot)];
        for (int64_t h = 0; h < H; ++h) {
          const float* row = c.data<float>() + ((b * S + s) * H + h) * D;
          double* m = mean.data() + ((b * H + h) * N + i) * D;
          for (int64_t d = 0; d < D; ++d) m[d] += row[d];
        }
      }
      for (int64_t h = 0; h < H; ++h) {
        double* m = mean.data() + ((b * H + h) * N + i) * D;
        for (int64_t d = 0; d < D; ++d) m[d] /= double(count);
      }
    }
  return mean;
}

// One group of the threshold rule: `entries` index into the batch item's [H, N, N] gates; `self`
// marks the self entries. Sets keep[e] for the non-self entries the rule keeps.
void threshold_group(const float* gates, const std::vector<int64_t>& entries,
                     const std::vector<char>& is_self, double tau, std::vector<char>& keep) {
  float lo = gates[entries.front()], hi = lo;
  for (int64_t e : entries) {
    lo = std::min(lo, gates[e]);
    hi = std::max(hi, gates[e]);
  }
  double d = double(hi) - double(lo);
  if (d <= kEps) d = 1.0;
  double self_sum = 0, total = 0;
  std::vector<std::pair<double, int64_t>> others;
  for (int64_t e : entries) {
    const double n = (double(gates[e]) - double(lo)) / d;
    total += n;
    if (is_self[size_t(e)]) {
      self_sum += n;
    } else {
      others.emplace_back(n, e);
    }
  }
  const double r = std::max(0.0, tau - self_sum / (total + kEps));
  std::stable_sort(others.begin(), others.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  double running = 0;
  for (const auto& [n, e] : others) {
    keep[size_t(e)] = 1;
    running += n;
    if (running / (total + kEps) >= r) return;  // the crossing entry is kept
  }
}

// The `count` highest non-self entries of `entries` (equal gates in index order).
void top_group(const float* gates, std::vector<int64_t> entries, const std::vector<char>& is_self,
               int64_t count, std::vector<char>& keep) {
  std::erase_if(entries, [&](int64_t e) { return is_self[size_t(e)] != 0; });
  std::stable_sort(entries.begin(), entries.end(),
                   [&](int64_t a, int64_t b) { return gates[a] > gates[b]; });
  for (int64_t i = 0; i < std::min<int64_t>(count, int64_t(entries.size())); ++i)
    keep[size_t(entries[size_t(i)])] = 1;
}

}  // namespace

Tensor vmoba_gates(const Tensor& q, const Tensor& k, const TokenTiling& tiling) {
  FV_CHECK(q.ndim() == 4 && k.shape() == q.shape() && q.size(1) == tiling.tokens,
           "vmoba_gates: q and k must be [B, S, H, D] with S = ", tiling.tokens,
           " (the token grid's), got q ", q.describe(), ", k ", k.describe());
  if (q.numel() == 0) {  // no batch items or heads: no GPU kernel takes an empty grid
    return Tensor::zeros({q.size(0), q.size(2), tiling.num_tiles, tiling.num_tiles}, DType::F32);
  }
  if (!q.device().is_cpu()) {
#ifdef FASTVIDEO_HAVE_CUDA
    return cuda::vmoba_gates(q, k, tiling);
#else
    fail_without_cuda(q.device());
#endif
  }
  const int64_t B = q.size(0), H = q.size(2), D = q.size(3), N = tiling.num_tiles;
  const std::vector<double> mq = chunk_means(q, tiling), mk = chunk_means(k, tiling);
  Tensor gates = Tensor::empty({B, H, N, N}, DType::F32);
  float* g = gates.data<float>();
  for (int64_t bh = 0; bh < B * H; ++bh)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < D; ++d)
          dot += mq[size_t((bh * N + i) * D + d)] * mk[size_t((bh * N + j) * D + d)];
        g[(bh * N + i) * N + j] = float(dot);
      }
  return gates;
}

Tensor vmoba_select(const Tensor& gates, const VmobaRule& rule) {
  FV_CHECK(gates.ndim() == 4 && gates.size(2) == gates.size(3) && gates.dtype() == DType::F32 &&
               gates.device().is_cpu(),
           "vmoba_select: gates must be F32 [B, H, N, N] on the CPU, got ", gates.describe());
  const int64_t B = gates.size(0), H = gates.size(1), N = gates.size(2), per_b = H * N * N;
  FV_CHECK(rule.mode == VmobaSelectMode::Threshold || rule.topk >= 1, "VMOBA_ATTN topk ", rule.topk,
           " is below 1");
  FV_CHECK(!(rule.mode == VmobaSelectMode::TopK && rule.type == VmobaThresholdType::Block),
           "VMOBA_ATTN: moba_threshold_type 'block' has no topk form; use query_head, overall or "
           "head_global with moba_select_mode 'topk'");
  const Tensor g = gates.contiguous();
  for (int64_t e = 0; e < g.numel(); ++e)
    FV_CHECK(!std::isnan(g.data<float>()[e]),
             "VMOBA_ATTN: the gate score of (batch, head, query "
             "chunk, key chunk) entry ",
             e, " is NaN (q or k holds NaN)");
  std::vector<char> is_self(size_t(per_b), 0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < N; ++i) is_self[size_t((h * N + i) * N + i)] = 1;
  std::vector<char> keep(size_t(B * per_b), 0);
  bool any_other = false;
  for (int64_t b = 0; b < B; ++b) {
    const float* gb = g.data<float>() + b * per_b;
    std::vector<char> kb(size_t(per_b), 0);
    // The groups of the rule's type, as lists of entries (h, i, j) -> (h·N + i)·N + j.
    std::vector<std::vector<int64_t>> groups;
    auto entry = [&](int64_t h, int64_t i, int64_t j) { return (h * N + i) * N + j; };
    switch (rule.type) {
      case VmobaThresholdType::QueryHead:
        for (int64_t h = 0; h < H; ++h)
          for (int64_t i = 0; i < N; ++i) {
            groups.emplace_back();
            for (int64_t j = 0; j < N; ++j) groups.back().push_back(entry(h, i, j));
          }
        break;
      case VmobaThresholdType::Block:
        for (int64_t j = 0; j < N; ++j) {
          groups.emplace_back();
          for (int64_t h = 0; h < H; ++h)
            for (int64_t i = 0; i < N; ++i) groups.back().push_back(entry(h, i, j));
        }
        break;
      case VmobaThresholdType::Overall:
        groups.emplace_back(size_t(per_b));
        std::iota(groups.back().begin(), groups.back().end(), int64_t(0));
        break;
      case VmobaThresholdType::HeadGlobal:
        for (int64_t h = 0; h < H; ++h) {
          groups.emplace_back(size_t(N * N));
          std::iota(groups.back().begin(), groups.back().end(), h * N * N);
        }
        break;
    }
    for (const std::vector<int64_t>& group : groups) {
      if (rule.mode == VmobaSelectMode::Threshold) {
        threshold_group(gb, group, is_self, rule.threshold, kb);
      } else {
        // Per (head, query chunk): topk − 1 others; per head: (topk − 1)·N; overall:
        // (topk − 1)·H·N, the self chunks being kept on top as FastVideo's +1e9 keeps them.
        const int64_t rows = int64_t(group.size()) / N;
        top_group(gb, group, is_self, (rule.topk - 1) * rows, kb);
      }
    }
    for (int64_t e = 0; e < per_b; ++e) {
      any_other = any_other || (kb[size_t(e)] && !is_self[size_t(e)]);
      keep[size_t(b * per_b + e)] = kb[size_t(e)] || is_self[size_t(e)];
    }
  }
  if (!any_other) std::fill(keep.begin(), keep.end(), 1);  // FastVideo's dense fallback
  Tensor lists = Tensor::empty({B, H, N, N}, DType::I32);
  int32_t* dst = lists.data<int32_t>();
  for (int64_t row = 0; row < B * H * N; ++row, dst += N) {
    int64_t n = 0;
    for (int64_t j = 0; j < N; ++j)
      if (keep[size_t(row * N + j)]) dst[n++] = int32_t(j);
    std::fill(dst + n, dst + N, -1);
  }
  return lists;
}

Tensor video_moba_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                            const TokenTiling& tiling, const VmobaRule& rule, float scale) {
  check_tiled_self_attention("VMOBA_ATTN", q, k, v, tiling);  // before the gates read q and k
  // No batch items or heads: nothing to attend to, and no GPU kernel takes an empty grid.
  if (q.numel() == 0) return Tensor::empty(q.shape(), q.dtype(), q.device());
#ifdef FASTVIDEO_HAVE_CUDA
  if (!q.device().is_cpu() && q.dtype() == DType::BF16 && q.size(3) == 128 &&
      cuda::vmoba_rule_on_device(rule, tiling.num_tiles) &&
      cuda::hopper_tile_lists_here(q.device())) {
    try {
      return cuda::video_moba_attention_on_device(q, k, v, tiling, rule, scale);
    } catch (const Error& e) {
      e.rethrow_with_context("VMOBA_ATTN");
    }
  }
#endif
  return tile_list_self_attention("VMOBA_ATTN", q, k, v, tiling,
                                  vmoba_select(vmoba_gates(q, k, tiling), rule), scale);
}

}  // namespace fastvideo::ops
