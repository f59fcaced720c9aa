#include "vsa_reference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "test_util.h"

namespace fastvideo::testing {

std::vector<int32_t> reference_select(const float* scores, int64_t n, int64_t topk) {
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int32_t a, int32_t b) { return scores[a] > scores[b]; });
  order.resize(static_cast<size_t>(topk));
  std::sort(order.begin(), order.end());
  return order;
}

namespace {

// Whether `given` (ascending) is a top-k of `scores` up to a near-tie at the boundary: every tile
// it keeps scores at least the k-th largest score minus near_tie of the row's largest |score|.
bool top_k_up_to_ties(const float* scores, int64_t n, int64_t topk, const int32_t* given,
                      float near_tie) {
  std::vector<float> sorted(scores, scores + n);
  std::nth_element(sorted.begin(), sorted.begin() + (topk - 1), sorted.end(), std::greater<>());
  const float kth = sorted[size_t(topk - 1)];
  float largest = 0;
  for (int64_t j = 0; j < n; ++j) largest = std::max(largest, std::fabs(scores[j]));
  const float slack = near_tie * largest + 1e-6f;
  for (int64_t i = 0; i < topk; ++i) {
    if (given[i] < 0 || given[i] >= n || (i > 0 && given[i] <= given[i - 1])) return false;
    if (scores[given[i]] < kth - slack) return false;
  }
  return true;
}

}  // namespace

VsaReference reference_vsa(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                           std::array<int64_t, 3> grid, int64_t topk, float scale,
                           const std::vector<int32_t>* selection, float near_tie) {
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t nt = (grid[0] + 3) / 4, nh = (grid[1] + 3) / 4, nw = (grid[2] + 3) / 4;
  const int64_t N = nt * nh * nw;
  // The tile of each token from its coordinates.
  std::vector<int64_t> tile_of(static_cast<size_t>(S));
  std::vector<int64_t> count(static_cast<size_t>(N), 0);
  for (int64_t t = 0; t < grid[0]; ++t)
    for (int64_t y = 0; y < grid[1]; ++y)
      for (int64_t x = 0; x < grid[2]; ++x) {
        const int64_t s = (t * grid[1] + y) * grid[2] + x;
        tile_of[size_t(s)] = ((t / 4) * nh + y / 4) * nw + x / 4;
        ++count[size_t(tile_of[size_t(s)])];
      }
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  auto at = [&](const Tensor& t, int64_t b, int64_t s, int64_t h, int64_t d) {
    return double(t.data<float>()[((b * S + s) * H + h) * D + d]);
  };

  VsaReference ref;
  ref.scores = Tensor::empty({B, H, N, N}, DType::F32);
  ref.selected.resize(size_t(B * H * N * topk));
  std::vector<double> coarse(size_t(B * H * N * D));  // O_c per (b, h, query tile)
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      std::vector<double> mean(size_t(3 * N * D), 0.0);
      const Tensor* qkv[3] = {&qc, &kc, &vc};
      for (int x = 0; x < 3; ++x)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t d = 0; d < D; ++d)
            mean[size_t((x * N + tile_of[size_t(s)]) * D + d)] += at(*qkv[x], b, s, h, d);
      for (int x = 0; x < 3; ++x)
        for (int64_t i = 0; i < N; ++i)
          for (int64_t d = 0; d < D; ++d)
            mean[size_t((x * N + i) * D + d)] /= double(count[size_t(i)]);
      float* sc = ref.scores.data<float>() + (b * H + h) * N * N;
      for (int64_t i = 0; i < N; ++i) {
        std::vector<double> row(static_cast<size_t>(N));
        double mx = -INFINITY;
        for (int64_t j = 0; j < N; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += mean[size_t(i * D + d)] * mean[size_t((N + j) * D + d)];
          row[size_t(j)] = dot * scale;
          sc[i * N + j] = float(row[size_t(j)]);
          mx = std::max(mx, row[size_t(j)]);
        }
        const std::vector<int32_t> sel = reference_select(sc + i * N, N, topk);
        const int64_t at_row = ((b * H + h) * N + i) * topk;
        if (selection) {
          const int32_t* given = selection->data() + at_row;
          if (!top_k_up_to_ties(sc + i * N, N, topk, given, near_tie)) {
            ++ref.invalid_rows;
          } else if (!std::equal(sel.begin(), sel.end(), given)) {
            ++ref.near_tie_rows;
          }
          std::copy(given, given + topk, ref.selected.begin() + at_row);
        } else {
          std::copy(sel.begin(), sel.end(), ref.selected.begin() + at_row);
        }
        double sum = 0;
        for (double& r : row) sum += (r = std::exp(r - mx));
        for (int64_t d = 0; d < D; ++d) {
          double o = 0;
          for (int64_t j = 0; j < N; ++j)
            o += row[size_t(j)] / sum * mean[size_t((2 * N + j) * D + d)];
          coarse[size_t(((b * H + h) * N + i) * D + d)] = o;
        }
      }
    }

  // Fine branch: dense attention with the block mask, one batch item at a time (the mask differs
  // per batch item and head).
  ref.out = Tensor::empty({B, S, H, D}, DType::F32);
  const Tensor gc = gate.defined() ? gate.contiguous() : Tensor();
  for (int64_t b = 0; b < B; ++b) {
    Tensor bias = Tensor::empty({H, S, S}, DType::F32);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s) {
        const int32_t* sel = ref.selected.data() + ((b * H + h) * N + tile_of[size_t(s)]) * topk;
        float* row = bias.data<float>() + (h * S + s) * S;
        for (int64_t r = 0; r < S; ++r)
          row[r] =
              std::binary_search(sel, sel + topk, int32_t(tile_of[size_t(r)])) ? 0.f : -INFINITY;
      }
    const Tensor fine = reference_attention(qc.slice(0, b, b + 1), kc.slice(0, b, b + 1),
                                            vc.slice(0, b, b + 1), scale, bias);
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < D; ++d) {
          const double g = gc.defined() ? at(gc, b, s, h, d) : 0.0;
          const double c = coarse[size_t(((b * H + h) * N + tile_of[size_t(s)]) * D + d)];
          ref.out.data<float>()[((b * S + s) * H + h) * D + d] =
              float(double(fine.data<float>()[(s * H + h) * D + d]) + g * c);
        }
  }
  return ref;
}

}  // namespace fastvideo::testing
