// SLIDING_TILE_ATTN (ops/sliding_tile_attention.h) on the CPU: the 6×8×8 tiling with partial edge
// tiles, the window rule of FastVideo's Triton kernel (centre clamped, even windows one tile
// wider), and the attention against dense attention with the block mask written from the text
// (sta_reference.h), token by token; and the GPU routes' layouts: 64-token blocks
// (ops/tile_blocks.h) and key runs (ops/tile_runs.h).
#include "ops/sliding_tile_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ops/attention.h"
#include "ops/cpu/tile_list_attention.h"
#include "ops/tile_blocks.h"
#include "ops/tile_runs.h"
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
  EXPECT_EQ(keys(9, 3), (std::vector<int32_t>{7, 8, 9}));        // centre clamped down to 8
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
  // The blocks as a tiling of 64-slot tiles, which the CPU kernel takes as it takes any tiling;
  // the padding (the empty block, repeated) as the -1 entries the CPU kernel skips.
  Tensor block_lists = expanded.clone();
  std::replace(block_lists.data<int32_t>(), block_lists.data<int32_t>() + block_lists.numel(),
               int32_t(blocks->empty_block()), -1);
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
  EXPECT_LE(rel_l2(ops::cpu::tile_list_attention(q, k, v, as_tiles, block_lists, 0.25f),
                   testing::sta_masked_reference(q, k, v, grid, windows, 0.25f)),
            1e-5);
}

TEST(TileRuns, QueryBlocksPerTileAndRunsCoverExactlyTheListedTiles) {
  const auto tiling = sta_tiling_for({9, 11, 19});  // 2 x 2 x 3 tiles, partial on every axis
  const auto layout = TileRuns::for_tiling(*tiling);
  const int64_t N = tiling->num_tiles, S = tiling->tokens;
  ASSERT_EQ(layout->key_offset.size(), size_t(N + 1));
  EXPECT_EQ(layout->key_offset.back(), S);
  EXPECT_EQ(layout->token_of_query_row.size(), size_t(128 * layout->query_blocks));
  // Each token once among the keys and once among the query rows, tile t's keys at its offsets
  // and its query rows in its own blocks, valid rows at the front.
  std::vector<int> key_seen(size_t(S), 0);
  for (int64_t t = 0; t < N; ++t) {
    EXPECT_EQ(layout->key_offset[size_t(t) + 1] - layout->key_offset[size_t(t)],
              tiling->tile_sizes[size_t(t)]);
    for (int32_t r = layout->key_offset[size_t(t)]; r < layout->key_offset[size_t(t) + 1]; ++r) {
      const int32_t token = layout->token_of_key_row[size_t(r)];
      ++key_seen[size_t(token)];
      EXPECT_EQ(tiling->token_of_slot[size_t(tiling->slot_of_token[size_t(token)])], token);
      EXPECT_EQ(tiling->slot_of_token[size_t(token)] / tiling->tile_slots, t) << "key row " << r;
    }
  }
  for (int n : key_seen) EXPECT_EQ(n, 1);
  // Query rows: each token once, in a block of its own tile (ungrouped) or of its group's first
  // tile (grouped by equal lists).
  const std::vector<StaWindow> windows = {{1, 1, 1}, {2, 1, 3}, {2, 2, 2}};
  const Tensor lists = sta_tile_lists(*tiling, 2, windows);
  const std::vector<int32_t> groups = same_list_groups(lists);
  const Tensor shared_lists = sta_tile_lists(*tiling, 1, std::vector<StaWindow>(2, {2, 2, 3}));
  const std::vector<int32_t> shared_groups = same_list_groups(shared_lists);
  EXPECT_LT(*std::max_element(shared_groups.begin(), shared_groups.end()), N - 1)
      << "windows as wide as the grid give every tile the same list";
  for (const std::vector<int32_t>& group : {std::vector<int32_t>(), groups, shared_groups}) {
    const auto grouped = group.empty() ? layout : TileRuns::grouped(*tiling, group);
    std::vector<int> query_seen(size_t(S), 0);
    for (int64_t row = 0; row < 128 * grouped->query_blocks; ++row) {
      const int32_t token = grouped->token_of_query_row[size_t(row)];
      if (token < 0) continue;
      ++query_seen[size_t(token)];
      const int32_t tile = tiling->slot_of_token[size_t(token)] / int32_t(tiling->tile_slots);
      EXPECT_EQ(grouped->tile_of_query_block[size_t(row / 128)],
                group.empty() ? tile : group[size_t(tile)]);
    }
    for (int n : query_seen) EXPECT_EQ(n, 1);
  }
  // Tiles group only with tiles whose lists are equal in every (batch, head), and tiles with
  // equal lists group.
  for (const auto& [set, group] :
       {std::pair{lists, groups}, std::pair{shared_lists, shared_groups}}) {
    const int64_t rows = set.size(0) * set.size(1), Ls = set.size(3);
    const auto list_of = [&](int64_t row, int64_t t) {
      std::vector<int32_t> tiles;
      for (int64_t j = 0; j < Ls; ++j)
        if (const int32_t x = set.data<int32_t>()[(row * N + t) * Ls + j]; x >= 0)
          tiles.push_back(x);
      std::sort(tiles.begin(), tiles.end());
      return tiles;
    };
    for (int64_t t = 0; t < N; ++t)
      for (int64_t u = 0; u <= t; ++u) {
        bool equal = true;
        for (int64_t row = 0; row < rows; ++row)
          equal = equal && list_of(row, t) == list_of(row, u);
        if (equal) {
          EXPECT_EQ(group[size_t(t)], group[size_t(u)]) << "tiles " << u << " and " << t;
        } else {
          EXPECT_NE(group[size_t(t)], group[size_t(u)]) << "tiles " << u << " and " << t;
        }
      }
  }
  EXPECT_GT(std::set<int32_t>(groups.begin(), groups.end()).size(), size_t(1))
      << "the varied windows give the tiles different lists";
  // A group per tile is the cached ungrouped layout; other groupings are built for their caller.
  std::vector<int32_t> own(static_cast<size_t>(N));
  std::iota(own.begin(), own.end(), 0);
  EXPECT_EQ(TileRuns::grouped(*tiling, own), layout);
  EXPECT_NE(TileRuns::grouped(*tiling, shared_groups), TileRuns::grouped(*tiling, shared_groups));
  own[1] = 2;
  EXPECT_THROW(TileRuns::grouped(*tiling, own), Error);
  const auto [runs, counts] = tile_list_runs(*layout, lists);
  const int64_t R = runs.size(3), L = lists.size(3);
  ASSERT_EQ(counts.shape(), Shape({2, 3, N}));
  for (int64_t row = 0; row < 2 * 3 * N; ++row) {
    std::vector<int32_t> want, got;
    for (int64_t j = 0; j < L; ++j) {
      const int32_t tile = lists.data<int32_t>()[row * L + j];
      if (tile < 0) continue;
      for (int32_t r = layout->key_offset[size_t(tile)]; r < layout->key_offset[size_t(tile) + 1];
           ++r)
        want.push_back(r);
    }
    const int32_t n = counts.data<int32_t>()[row];
    EXPECT_TRUE(n >= 1 && n <= R) << "row " << row;
    for (int32_t i = 0; i < n; ++i) {
      const int32_t* run = runs.data<int32_t>() + (row * R + i) * 2;
      EXPECT_LT(run[0], run[1]) << "row " << row;
      if (i > 0) EXPECT_LT(run[-1], run[0]) << "row " << row << ": runs not apart and ascending";
      for (int32_t r = run[0]; r < run[1]; ++r) got.push_back(r);
    }
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << "row " << row;
  }
  // Neighbouring tiles merge: the full window is one run of every key.
  const Tensor all =
      sta_tile_lists(*tiling, 1, std::vector<StaWindow>(1, sta_full_window(*tiling)));
  const auto [one, one_count] = tile_list_runs(*layout, all);
  EXPECT_EQ(one.size(3), 1);
  EXPECT_EQ(one.data<int32_t>()[0], 0);
  EXPECT_EQ(one.data<int32_t>()[1], S);
}

// Every reader of tile lists (the CPU kernel, the key runs, the key blocks) refuses a tile outside
// the grid, a row with none and a tile named twice (its keys would count twice), naming the row.
TEST(TileLists, EveryReaderRefusesBadListsByName) {
  const auto tiling = sta_tiling_for({9, 11, 19});
  const int64_t N = tiling->num_tiles;
  const Tensor lists = sta_tile_lists(*tiling, 1, std::vector<StaWindow>(2, {2, 1, 2}));
  const Tensor q = randn({1, tiling->tokens, 2, 8});
  const std::vector<std::function<void(const Tensor&)>> readers = {
      [&](const Tensor& l) { ops::cpu::tile_list_attention(q, q, q, *tiling, l, 0.3f); },
      [&](const Tensor& l) { tile_list_runs(*TileRuns::for_tiling(*tiling), l); },
      [&](const Tensor& l) { expand_tile_lists(*TileBlocks::for_tiling(*tiling), l); }};
  const int64_t L = lists.size(3), row = 5;  // query tile 5 of head 0
  int32_t* r = nullptr;
  const auto bad = [&](auto&& edit) {
    Tensor b = lists.clone();
    r = b.data<int32_t>() + row * L;
    edit();
    return b;
  };
  const Tensor outside = bad([&] { r[0] = int32_t(N); });
  const Tensor none = bad([&] { std::fill_n(r, L, -1); });
  const Tensor twice = bad([&] { r[1] = r[0]; });
  const int32_t named_twice = lists.data<int32_t>()[row * L];
  for (const auto& read : readers) {
    EXPECT_NO_THROW(read(lists));
    std::string m = error_of([&] { read(outside); });
    EXPECT_TRUE(contains(m, "query tile 5 names key tile " + std::to_string(N) + ", outside 0 .. " +
                                std::to_string(N - 1)))
        << m;
    m = error_of([&] { read(none); });
    EXPECT_TRUE(contains(m, "query tile 5 (batch 0, head 0) names no key tile")) << m;
    m = error_of([&] { read(twice); });
    EXPECT_TRUE(
        contains(m, "query tile 5 names key tile " + std::to_string(named_twice) + " twice"))
        << m;
  }
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
