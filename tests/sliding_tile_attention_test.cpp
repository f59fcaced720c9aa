// SLIDING_TILE_ATTN (ops/sliding_tile_attention.h) on the CPU: the 6×8×8 tiling with partial edge
// tiles, the window rule of FastVideo's Triton kernel (centre clamped, even windows one tile
// wider), and the attention against dense attention with the block mask built here from the text
// (fastvideo.md §4.1), token by token.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ops/attention.h"
#include "ops/sliding_tile_attention.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::error_of;
using testing::randn;
using testing::rel_l2;

using testing::contains;

TEST(StaTiling, SixByEightByEightTilesWithPartialEdges) {
  const auto wan = sta_tiling_for({21, 30, 52});  // Wan 1.3B 480p: no whole number of tiles
  EXPECT_EQ(wan->tiles, (std::array<int64_t, 3>{4, 4, 7}));
  EXPECT_EQ(wan->num_tiles, 112);
  EXPECT_EQ(wan->tile_slots, 384);
  EXPECT_EQ(wan->tile_sizes[0], 384);
  EXPECT_EQ(wan->tile_sizes[111], 3 * 6 * 4);  // last tile: 21−18 frames, 30−24 rows, 52−48 cols
  const auto wan14 = sta_tiling_for({18, 48, 80});  // FastVideo's Wan 14B canvas
  EXPECT_EQ(wan14->tiles, (std::array<int64_t, 3>{3, 6, 10}));
  EXPECT_EQ(sta_full_window(*wan14), (StaWindow{3, 6, 10}));  // its full_window_mapping entry
  for (int32_t size : wan14->tile_sizes) EXPECT_EQ(size, 384);
}

TEST(StaWindowRule, CentreClampedAndEvenWindowsOneTileWider) {
  const auto t = sta_tiling_for({6, 8, 80});  // 1 x 1 x 10 tiles: the w axis alone
  auto keys = [&](int64_t q, int64_t k) { return sta_key_tiles(*t, q, {1, 1, k}); };
  EXPECT_EQ(keys(0, 3), (std::vector<int32_t>{0, 1, 2}));  // centre clamped up to 1
  EXPECT_EQ(keys(5, 3), (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(keys(9, 3), (std::vector<int32_t>{7, 8, 9}));  // centre clamped down to 8
  EXPECT_EQ(keys(5, 4), (std::vector<int32_t>{3, 4, 5, 6, 7}));  // even: k + 1 tiles
  EXPECT_EQ(keys(0, 4), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(keys(9, 4), (std::vector<int32_t>{5, 6, 7, 8, 9}));
  EXPECT_EQ(keys(3, 10).size(), 10u);  // k = n, even: every tile
  EXPECT_EQ(keys(3, 1), (std::vector<int32_t>{3}));
}

TEST(StaWindowRule, WindowsOffTheGridAreRefusedNamingTheAxis) {
  const auto t = sta_tiling_for({7, 10, 13});  // 2 x 2 x 2 tiles
  std::string m = error_of([&] { sta_key_tiles(*t, 0, {1, 3, 1}); });
  EXPECT_TRUE(contains(m, "window [1, 3, 1] has 3 tiles along h, outside 1 .. 2")) << m;
  m = error_of([&] { sta_key_tiles(*t, 0, {0, 1, 1}); });
  EXPECT_TRUE(contains(m, "has 0 tiles along t")) << m;
}

// Dense attention with the block mask written from the text: token s of tile (ct, ch, cw) sees
// token s' of tile (kt, kh, kw) when, on every axis, |window centre − k| <= k/2 with the centre the
// query tile clamped to [k/2, n − 1 − k/2] — computed here per token, not per tile list.
Tensor masked_reference(const Tensor& q, const Tensor& k, const Tensor& v,
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
        if (!seen) bias.data<float>()[(h * S + i) * S + j] = -std::numeric_limits<float>::infinity();
      }
  return ops::attention(q, k, v, scale, bias);
}

TEST(SlidingTileAttention, MatchesDenseAttentionWithTheBlockMaskOnAnOddGrid) {
  const std::array<int64_t, 3> grid{9, 11, 19};  // 2 x 2 x 3 tiles, partial on every axis
  const auto tiling = sta_tiling_for(grid);
  const std::vector<StaWindow> windows = {{1, 1, 1}, {1, 2, 1}, {2, 1, 3}, {2, 2, 2}};
  const int64_t S = tiling->tokens;
  const Tensor q = randn({2, S, 4, 16}), k = randn({2, S, 4, 16}), v = randn({2, S, 4, 16});
  const Tensor got = ops::sliding_tile_attention(q, k, v, *tiling, windows, 0.25f);
  EXPECT_LE(rel_l2(got, masked_reference(q, k, v, grid, windows, 0.25f)), 1e-5);
}

TEST(SlidingTileAttention, TheFullWindowIsDenseAttention) {
  const auto tiling = sta_tiling_for({7, 10, 13});
  const std::vector<StaWindow> full(3, sta_full_window(*tiling));
  const Tensor q = randn({1, tiling->tokens, 3, 8}), k = randn({1, tiling->tokens, 3, 8}),
               v = randn({1, tiling->tokens, 3, 8});
  EXPECT_LE(rel_l2(ops::sliding_tile_attention(q, k, v, *tiling, full, 0.3f),
                   ops::attention(q, k, v, 0.3f)),
            1e-5);
}

TEST(SlidingTileAttention, BadInputsNameWhatWasExpected) {
  const auto tiling = sta_tiling_for({7, 10, 13});
  const Tensor q = randn({1, tiling->tokens, 2, 8});
  const std::vector<StaWindow> one = {{1, 1, 1}};
  std::string m = error_of([&] { ops::sliding_tile_attention(q, q, q, *tiling, one, 0.3f); });
  EXPECT_TRUE(contains(m, "1 windows for 2 heads")) << m;
  const Tensor short_q = randn({1, 10, 2, 8});
  const std::vector<StaWindow> two(2, StaWindow{1, 1, 1});
  m = error_of([&] { ops::sliding_tile_attention(short_q, short_q, short_q, *tiling, two, 0.3f); });
  EXPECT_TRUE(contains(m, "q has 10 tokens but the token grid [7, 10, 13] has 910")) << m;
}

}  // namespace
}  // namespace fastvideo
