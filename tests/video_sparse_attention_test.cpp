// VIDEO_SPARSE_ATTN on the CPU against the reference written from the text (vsa_reference.h): the
// tiling's worked examples (fastvideo.md §3.2), the top-k rule with ties, the whole forward on odd
// grids (partial tiles on every axis) and its refusals.
#include "ops/video_sparse_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "attention/attention_registry.h"
#include "attention/video_sparse_attn_backend.h"
#include "ops/attention.h"
#include "ops/embedding.h"
#include "test_util.h"
#include "vsa_reference.h"

namespace fastvideo {
namespace {

using testing::error_of;
using testing::randn;
using testing::rel_l2;

using testing::contains;

TEST(VsaTiling, MatchesTheWorkedExamples) {
  // Wan 1.3B 480×832×81 -> grid 21×30×52 -> 6×8×13 tiles.
  const auto wan = vsa_tiling_for({21, 30, 52});
  EXPECT_EQ(wan->num_tiles, 624);
  EXPECT_EQ(wan->padded_len, 39936);
  EXPECT_EQ(wan->tokens, 32760);
  EXPECT_EQ(vsa_topk(0.8, wan->num_tiles), 125);
  EXPECT_EQ(vsa_topk(0.9, wan->num_tiles), 63);
  // FastWan 448×832×61 -> 16×28×52 -> 4×7×13 full tiles.
  const auto fastwan = vsa_tiling_for({16, 28, 52});
  EXPECT_EQ(fastwan->num_tiles, 364);
  for (int32_t size : fastwan->tile_sizes) EXPECT_EQ(size, 64);
  EXPECT_EQ(vsa_topk(0.8, fastwan->num_tiles), 73);
  // Wan 14B 720×1280×81 -> 21×45×80 -> 6×12×20.
  const auto wan14 = vsa_tiling_for({21, 45, 80});
  EXPECT_EQ(wan14->num_tiles, 1440);
  EXPECT_EQ(vsa_topk(0.9, wan14->num_tiles), 144);
  // Cached per grid.
  EXPECT_EQ(vsa_tiling_for({21, 30, 52}).get(), wan.get());
}

TEST(VsaTiling, PacksEachTilesTokensAtTheFrontInRasterOrder) {
  // Grid 1×1×5: tile 0 holds tokens 0-3, tile 1 token 4 in its first slot.
  const auto line = vsa_tiling_for({1, 1, 5});
  EXPECT_EQ(line->tile_sizes, (std::vector<int32_t>{4, 1}));
  EXPECT_EQ(line->token_of_slot[0], 0);
  EXPECT_EQ(line->token_of_slot[3], 3);
  EXPECT_EQ(line->token_of_slot[4], -1);
  EXPECT_EQ(line->token_of_slot[64], 4);
  EXPECT_EQ(line->slot_of_token[4], 64);
  // An odd grid: slots and tokens are inverse maps; tile sizes add up; tile 1 (t-tile 0, h-tile 0,
  // w-tile 1) of grid 5×6×7 starts with token (0, 0, 4) then (0, 0, 5), (0, 0, 6), (0, 1, 4).
  const auto odd = vsa_tiling_for({5, 6, 7});
  EXPECT_EQ(odd->tiles, (std::array<int64_t, 3>{2, 2, 2}));
  int64_t total = 0;
  for (int32_t size : odd->tile_sizes) total += size;
  EXPECT_EQ(total, 5 * 6 * 7);
  EXPECT_EQ(odd->tile_sizes[1], 4 * 4 * 3);
  EXPECT_EQ(odd->tile_sizes[7], 1 * 2 * 3);
  for (int64_t s = 0; s < odd->tokens; ++s)
    EXPECT_EQ(odd->token_of_slot[size_t(odd->slot_of_token[size_t(s)])], s);
  EXPECT_EQ(
      (std::vector<int32_t>(odd->token_of_slot.begin() + 64, odd->token_of_slot.begin() + 68)),
      (std::vector<int32_t>{4, 5, 6, 7 + 4}));
}

TEST(VsaTopk, FollowsComputeTopkAndRefusesSparsityOutsideItsRange) {
  EXPECT_EQ(vsa_topk(0.0, 10), 10);
  EXPECT_EQ(vsa_topk(0.5, 10), 5);
  EXPECT_EQ(vsa_topk(0.999, 10), 1);
  for (double bad : {1.0, -0.1, 1.5, std::nan("")}) {
    const std::string message = error_of([&] { vsa_topk(bad, 10); });
    EXPECT_TRUE(contains(message, "VSA_sparsity")) << message;
  }
}

TEST(VsaSelect, KeepsTheLargestAndBreaksTiesTowardsTheLowestIndex) {
  const float scores[] = {1.f, 3.f, 3.f, 3.f, 2.f, -1.f};
  auto select = [&](int64_t k) {
    std::vector<int32_t> out(static_cast<size_t>(k));
    select_top_blocks(scores, 6, k, out.data());
    return out;
  };
  EXPECT_EQ(select(1), (std::vector<int32_t>{1}));
  EXPECT_EQ(select(2), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(select(4), (std::vector<int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(select(5), (std::vector<int32_t>{0, 1, 2, 3, 4}));
  const float equal[] = {0.5f, 0.5f, 0.5f, 0.5f};
  std::vector<int32_t> out(2);
  select_top_blocks(equal, 4, 2, out.data());
  EXPECT_EQ(out, (std::vector<int32_t>{0, 1}));
  // Agrees with the stable-sort rule on random rows with many ties.
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> row(37);
    for (float& x : row) x = float(int(rng() % 9) - 4);
    const int64_t k = 1 + int64_t(rng() % 37);
    std::vector<int32_t> got(static_cast<size_t>(k));
    select_top_blocks(row.data(), 37, k, got.data());
    EXPECT_EQ(got, testing::reference_select(row.data(), 37, k));
  }
}

struct VsaCase {
  std::array<int64_t, 3> grid;
  int64_t batch, heads, head_dim;
  double sparsity;
  bool gate;
};

void expect_matches_reference(const VsaCase& c) {
  const auto tiling = vsa_tiling_for(c.grid);
  const Shape shape{c.batch, tiling->tokens, c.heads, c.head_dim};
  const Tensor q = randn(shape), k = randn(shape), v = randn(shape);
  const Tensor gate = c.gate ? randn(shape) : Tensor();
  const int64_t topk = vsa_topk(c.sparsity, tiling->num_tiles);
  const float scale = 1.f / std::sqrt(float(c.head_dim));
  VsaSelection selection;
  const Tensor out = ops::video_sparse_attention(q, k, v, gate, *tiling, topk, scale, &selection);
  const testing::VsaReference ref = testing::reference_vsa(q, k, v, gate, c.grid, topk, scale);
  EXPECT_LT(rel_l2(out, ref.out), 1e-5) << "sparsity " << c.sparsity;
  EXPECT_LT(rel_l2(selection.scores, ref.scores), 1e-5);
  const std::vector<int32_t> selected(
      selection.selected.data<int32_t>(),
      selection.selected.data<int32_t>() + selection.selected.numel());
  EXPECT_EQ(selected, ref.selected) << "sparsity " << c.sparsity;
}

TEST(VideoSparseAttentionCpu, MatchesTheReferenceOnOddGrids) {
  for (double sparsity : {0.0, 0.5, 0.8, 0.9})
    expect_matches_reference({{5, 6, 7}, 2, 3, 32, sparsity, true});
  expect_matches_reference({{9, 5, 13}, 1, 2, 16, 0.8, false});
  expect_matches_reference({{4, 8, 4}, 1, 2, 16, 0.5, true});  // whole tiles only
}

TEST(VideoSparseAttentionCpu, SelectsTheLowestTilesAmongEqualScores) {
  // Every key equal: all coarse scores tie, so each query tile keeps tiles 0 .. topk-1.
  const auto tiling = vsa_tiling_for({5, 6, 7});
  const Shape shape{1, tiling->tokens, 2, 16};
  const Tensor q = randn(shape), v = randn(shape);
  Tensor k = Tensor::full(shape, 0.25f);
  VsaSelection selection;
  ops::video_sparse_attention(q, k, v, {}, *tiling, 3, 0.25f, &selection);
  for (int64_t row = 0; row < 2 * tiling->num_tiles; ++row)
    for (int n = 0; n < 3; ++n) EXPECT_EQ(selection.selected.data<int32_t>()[row * 3 + n], n);
}

TEST(VideoSparseAttentionCpu, WithoutSparsityOrGateIsDenseAttention) {
  const auto tiling = vsa_tiling_for({3, 5, 6});
  const Shape shape{2, tiling->tokens, 2, 32};
  const Tensor q = randn(shape), k = randn(shape), v = randn(shape);
  const Tensor out = ops::video_sparse_attention(q, k, v, {}, *tiling, tiling->num_tiles, 0.2f);
  EXPECT_LT(rel_l2(out, testing::reference_attention(q, k, v, 0.2f)), 1e-5);
}

// The tile order: each tile's valid tokens on consecutive rows, tile after tile; the slot maps name
// those rows, token_of_row and row_of_token are inverse permutations; the same tiles and sizes.
TEST(VsaTiling, TileOrderPutsEachTilesTokensOnConsecutiveRows) {
  const auto raster = vsa_tiling_for({5, 6, 7});
  const auto ordered = vsa_tiling_for({5, 6, 7}, /*tile_order=*/true);
  ASSERT_TRUE(ordered->tile_order);
  EXPECT_FALSE(raster->tile_order);
  EXPECT_EQ(ordered->tile_sizes, raster->tile_sizes);
  EXPECT_EQ(ordered, vsa_tiling_for({5, 6, 7}, true)) << "cached";
  int32_t row = 0;
  for (int64_t i = 0; i < ordered->num_tiles; ++i) {
    for (int64_t r = 0; r < 64; ++r) {
      const int32_t slot = int32_t(i * 64 + r);
      const int32_t raster_token = raster->token_of_slot[size_t(slot)];
      if (r >= ordered->tile_sizes[size_t(i)]) {
        EXPECT_EQ(ordered->token_of_slot[size_t(slot)], -1);
        continue;
      }
      ASSERT_EQ(ordered->token_of_slot[size_t(slot)], row) << "tile " << i << ", slot " << r;
      EXPECT_EQ(ordered->slot_of_token[size_t(row)], slot);
      EXPECT_EQ(ordered->token_of_row[size_t(row)], raster_token);
      EXPECT_EQ(ordered->row_of_token[size_t(raster_token)], row);
      ++row;
    }
  }
  EXPECT_EQ(row, ordered->tokens);
}

// ops::gather_rows on the CPU: rows picked per batch item, any dtype, out-of-range rows named.
TEST(GatherRows, PicksRowsPerBatchItemAndNamesARowOutOfRange) {
  const Tensor x = randn({2, 5, 3});
  Tensor rows = Tensor::empty({3}, DType::I32);
  rows.data<int32_t>()[0] = 4;
  rows.data<int32_t>()[1] = 0;
  rows.data<int32_t>()[2] = 4;
  const Tensor y = ops::gather_rows(x, rows);
  ASSERT_EQ(y.shape(), Shape({2, 3, 3}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t c = 0; c < 3; ++c)
        EXPECT_EQ(y.data<float>()[(b * 3 + i) * 3 + c],
                  x.data<float>()[(b * 5 + rows.data<int32_t>()[i]) * 3 + c]);
  rows.data<int32_t>()[1] = 5;
  const std::string m = error_of([&] { ops::gather_rows(x, rows); });
  EXPECT_TRUE(contains(m, "row 5 at position 1 is outside x's 5 rows")) << m;
}

TEST(VideoSparseAttnBackend, RunsFromItsStepMetadataAndRefusesWhatItCannotDo) {
  const AttentionBackend& vsa =
      AttentionBackendRegistry::builtin().get("VIDEO_SPARSE_ATTN", "test");
  EXPECT_TRUE(vsa.status(AttentionDevice::cpu()).available());
  EXPECT_TRUE(vsa.takes_gate());
  const auto md =
      vsa.build_metadata({.step = 0, .timestep = 999, .grid = {5, 6, 7}, .sparsity = 0.5});
  const auto& vmd = dynamic_cast<const VsaMetadata&>(*md);
  EXPECT_EQ(vmd.topk, 4);
  const Shape shape{1, 5 * 6 * 7, 2, 128};
  const Tensor q = randn(shape), k = randn(shape), v = randn(shape), g = randn(shape);
  // The metadata's tiling reads rows in tile order, as the transformer keeps them under VSA: the
  // raster inputs go in gathered into it and the output comes back out of it.
  ASSERT_NE(md->row_order(), nullptr);
  const auto index = [](const std::vector<int32_t>& rows) {
    Tensor t = Tensor::empty({int64_t(rows.size())}, DType::I32);
    std::copy(rows.begin(), rows.end(), t.data<int32_t>());
    return t;
  };
  const Tensor to_tiles = index(md->row_order()->token_of_row);
  const Tensor to_raster = index(md->row_order()->row_of_token);
  const auto reorder = [&](const Tensor& x, const Tensor& rows) {
    return ops::gather_rows(x.reshape({1, shape[1], 2 * 128}), rows).reshape(shape);
  };
  const Tensor out =
      reorder(vsa.run(reorder(q, to_tiles), reorder(k, to_tiles), reorder(v, to_tiles), 0.1f,
                      md.get(), {.gate = reorder(g, to_tiles)}),
              to_raster);
  EXPECT_LT(rel_l2(out, testing::reference_vsa(q, k, v, g, {5, 6, 7}, 4, 0.1f).out), 1e-5);

  std::string m = error_of([&] { vsa.build_metadata({.grid = {5, 6, 7}, .sparsity = 1.0}); });
  EXPECT_TRUE(contains(m, "VSA_sparsity 1 is outside [0, 1)")) << m;
  m = error_of([&] { vsa.run(q, k, v, 0.1f); });
  EXPECT_TRUE(contains(m, "needs the step's metadata")) << m;
  // Cross-attention: keys from 512 text tokens.
  const Tensor text = randn({1, 512, 2, 128});
  m = error_of([&] { vsa.run(q, text, text, 0.1f, md.get()); });
  EXPECT_TRUE(contains(m, "self-attention only")) << m;
  m = error_of([&] { vsa.run(q, k, v, 0.1f, md.get(), {.gate = randn({1, 5 * 6 * 7, 2, 64})}); });
  EXPECT_TRUE(contains(m, "gate must be")) << m;
  const auto other = vsa.build_metadata({.grid = {5, 6, 8}, .sparsity = 0.5});
  m = error_of([&] { vsa.run(q, k, v, 0.1f, other.get()); });
  EXPECT_TRUE(contains(m, "token grid [5, 6, 8] has 240")) << m;
  // A dense backend takes no gate.
  m = error_of([&] { torch_sdpa_backend().run(q, k, v, 0.1f, nullptr, {.gate = g}); });
  EXPECT_TRUE(contains(m, "TORCH_SDPA takes no gate")) << m;
}

}  // namespace
}  // namespace fastvideo
