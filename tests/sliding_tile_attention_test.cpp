// SLIDING_TILE_ATTN (ops/sliding_tile_attention.h) on the CPU: the 6×8×8 tiling with partial edge
// tiles, the window rule of FastVideo's Triton kernel (centre clamped, even windows one tile
// wider), and the attention against dense attention with the block mask written from the text
// (sta_reference.h), token by token; and the GPU route's 64-token block layout (ops/tile_blocks.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "ops/attention.h"
#include "ops/cpu/tile_list_attention.h"
#include "ops/sliding_tile_attention.h"
#include "ops/tile_blocks.h"
#include "sta_reference.h"
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

TEST(SlidingTileAttention, MatchesDenseAttentionWithTheBlockMaskOnAnOddGrid) {
  const std::array<int64_t, 3> grid{9, 11, 19};  // 2 x 2 x 3 tiles, partial on every axis
  const auto tiling = sta_tiling_for(grid);
  const std::vector<StaWindow> windows = {{1, 1, 1}, {1, 2, 1}, {2, 1, 3}, {2, 2, 2}};
  const int64_t S = tiling->tokens;
  const Tensor q = randn({2, S, 4, 16}), k = randn({2, S, 4, 16}), v = randn({2, S, 4, 16});
  const Tensor got = ops::sliding_tile_attention(q, k, v, *tiling, windows, 0.25f);
  EXPECT_LE(rel_l2(got, testing::sta_masked_reference(q, k, v, grid, windows, 0.25f)), 1e-5);
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

// The GPU route's layout (ops/tile_blocks.h): each tile's tokens in 64-token blocks, every token
// once, then the empty block.
TEST(TileBlocks, EachTileFillsItsOwnBlocksAndOneEmptyBlockCloses) {
  const auto tiling = sta_tiling_for({9, 11, 19});  // 2 x 2 x 3 tiles, partial on every axis
  const auto blocks = TileBlocks::for_tiling(*tiling);
  EXPECT_EQ(blocks->first_block.size(), size_t(tiling->num_tiles + 1));
  EXPECT_EQ(blocks->block_sizes.size(), size_t(blocks->num_blocks));
  EXPECT_EQ(blocks->token_of_slot.size(), size_t(64 * blocks->num_blocks));
  EXPECT_EQ(blocks->first_block.back(), blocks->empty_block());
  EXPECT_EQ(blocks->block_sizes.back(), 0);
  for (int r = 0; r < 64; ++r)
    EXPECT_EQ(blocks->token_of_slot[size_t(64 * blocks->empty_block() + r)], -1);
  std::vector<int> seen(size_t(tiling->tokens), 0);
  for (int64_t t = 0; t < tiling->num_tiles; ++t) {
    int64_t tokens = 0;
    for (int32_t b = blocks->first_block[size_t(t)]; b < blocks->first_block[size_t(t) + 1]; ++b) {
      const int32_t size = blocks->block_sizes[size_t(b)];
      EXPECT_TRUE(size >= 1 && size <= 64) << "block " << b;
      for (int32_t r = 0; r < 64; ++r) {
        const int32_t token = blocks->token_of_slot[size_t(b) * 64 + size_t(r)];
        EXPECT_EQ(token >= 0, r < size) << "block " << b << " slot " << r;
        if (token < 0) continue;
        ++seen[size_t(token)];
        EXPECT_EQ(blocks->slot_of_token[size_t(token)], b * 64 + r);
        ++tokens;
      }
    }
    EXPECT_EQ(tokens, tiling->tile_sizes[size_t(t)]) << "tile " << t;
  }
  for (int n : seen) EXPECT_EQ(n, 1);
}

TEST(TileBlocks, AttentionOverTheExpandedBlockListsIsTheTileListsAttention) {
  const std::array<int64_t, 3> grid{9, 11, 19};
  const auto tiling = sta_tiling_for(grid);
  const auto blocks = TileBlocks::for_tiling(*tiling);
  const std::vector<StaWindow> windows = {{1, 1, 1}, {2, 1, 3}, {2, 2, 2}};
  const Tensor lists = sta_tile_lists(*tiling, 2, windows);
  const Tensor expanded = expand_tile_lists(*blocks, lists);
  EXPECT_EQ(expanded.size(2), blocks->num_blocks);
  // What the GPU kernel relies on, which the CPU kernel below would not notice: entries in range,
  // each row starting with a real block and padded with the empty block only at its end, the
  // blocks of one tile sharing a row, the empty query block listing block 0.
  const int64_t Nb = blocks->num_blocks, Lb = expanded.size(3);
  const int32_t* e = expanded.data<int32_t>();
  const int32_t empty = int32_t(blocks->empty_block());
  for (int64_t row = 0; row < expanded.size(0) * expanded.size(1) * Nb; ++row) {
    const int32_t* r = e + row * Lb;
    EXPECT_NE(r[0], empty) << "row " << row;
    bool padding = false;
    for (int64_t j = 0; j < Lb; ++j) {
      EXPECT_TRUE(r[j] >= 0 && r[j] < Nb) << "row " << row;
      if (r[j] == empty) padding = true;
      EXPECT_TRUE(!padding || r[j] == empty) << "row " << row << ": a real block after padding";
    }
    const int64_t qb = row % Nb;
    if (qb == empty) EXPECT_EQ(r[0], 0);
    for (int64_t t = 0; t < tiling->num_tiles; ++t)
      if (qb > blocks->first_block[size_t(t)] && qb < blocks->first_block[size_t(t) + 1])
        EXPECT_TRUE(std::equal(r, r + Lb, e + (row - qb + blocks->first_block[size_t(t)]) * Lb))
            << "block " << qb << " of tile " << t;
  }
  Tensor bad = lists.clone();
  bad.data<int32_t>()[0] = int32_t(tiling->num_tiles);
  EXPECT_TRUE(contains(testing::error_of([&] { expand_tile_lists(*blocks, bad); }), "outside"));
  std::fill_n(bad.data<int32_t>(), bad.size(3), -1);
  EXPECT_TRUE(
      contains(testing::error_of([&] { expand_tile_lists(*blocks, bad); }), "has no key tiles"));
  // The blocks as a tiling of 64-slot tiles, which the CPU kernel takes as it takes any tiling.
  TokenTiling as_tiles;
  as_tiles.tile_slots = 64;
  as_tiles.num_tiles = blocks->num_blocks;
  as_tiles.padded_len = 64 * blocks->num_blocks;
  as_tiles.tokens = tiling->tokens;
  as_tiles.tile_sizes = blocks->block_sizes;
  as_tiles.token_of_slot = blocks->token_of_slot;
  as_tiles.slot_of_token = blocks->slot_of_token;
  const int64_t S = tiling->tokens;
  const Tensor q = randn({2, S, 3, 16}), k = randn({2, S, 3, 16}), v = randn({2, S, 3, 16});
  EXPECT_LE(rel_l2(ops::cpu::tile_list_attention(q, k, v, as_tiles, expanded, 0.25f),
                   testing::sta_masked_reference(q, k, v, grid, windows, 0.25f)),
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
