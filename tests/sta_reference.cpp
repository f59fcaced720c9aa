#include "sta_reference.h"

#include <limits>

#include "ops/attention.h"

namespace fastvideo::testing {

Tensor sta_masked_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                            std::array<int64_t, 3> grid, const std::vector<StaWindow>& windows,
                            float scale) {
  const int64_t S = q.size(1), H = q.size(2);
  const std::array<int64_t, 3> edge = kStaTile;
  std::array<int64_t, 3> n{};
  for (int a = 0; a < 3; ++a) n[a] = (grid[a] + edge[a] - 1) / edge[a];
  auto tile_of = [&](int64_t s) {
    const int64_t x[3] = {s / (grid[1] * grid[2]), s / grid[2] % grid[1], s % grid[2]};
    return std::array<int64_t, 3>{x[0] / edge[0], x[1] / edge[1], x[2] / edge[2]};
  };
  Tensor bias = Tensor::zeros({H, S, S}, DType::F32);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < S; ++i)
      for (int64_t j = 0; j < S; ++j) {
        const auto qt = tile_of(i), kt = tile_of(j);
        bool seen = true;
        for (int a = 0; a < 3; ++a) {
          const int64_t half = windows[size_t(h)][a] / 2;
          int64_t c = qt[a];
          if (c > n[a] - 1 - half) c = n[a] - 1 - half;
          if (c < half) c = half;
          seen = seen && kt[a] >= c - half && kt[a] <= c + half;
        }
        if (!seen)
          bias.data<float>()[(h * S + i) * S + j] = -std::numeric_limits<float>::infinity();
      }
  return ops::attention(q, k, v, scale, bias);
}

}  // namespace fastvideo::testing
