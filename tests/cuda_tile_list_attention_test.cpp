// The tile-list backends on a GPU (ops/cuda/tile_list_attention.cpp: the tiles' 64-token blocks on
// the portable block-sparse kernel), on bf16-rounded random inputs, rel-L2 ≤ 1e-2:
// - SLIDING_TILE_ATTN against the reference written from the text (sta_reference.h): odd grids
//   (partial tiles on every axis), batch 2, heads 12 and 40, several windows per call, and the
//   full window against dense attention;
// - VMOBA_ATTN: the GPU's chunk gates against the CPU's, and its attention against the CPU kernel
//   over the selection the GPU's gates give (partial chunks, batch 2, heads 12 and 40).
// Skips where no GPU exists.
#include <gtest/gtest.h>

#include "ops/attention.h"
#include "ops/cpu/tile_list_attention.h"
#include "ops/sliding_tile_attention.h"
#include "ops/video_moba_attention.h"
#include "require_gpu.h"
#include "sta_reference.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::rel_l2;

const Device kGpu = Device::cuda(0);

struct Input {
  Tensor cpu, gpu;  // the same bf16 values, as f32 on the CPU
};
Input random_input(Shape shape) {
  const Tensor gpu = testing::randn(shape).to(DType::BF16).to(kGpu);
  return {gpu.to(Device::cpu()).to(DType::F32), gpu};
}

void expect_matches_reference(std::array<int64_t, 3> grid, int64_t batch, int64_t heads,
                              const std::vector<StaWindow>& cycle) {
  const auto tiling = sta_tiling_for(grid);
  std::vector<StaWindow> windows;
  for (int64_t h = 0; h < heads; ++h) windows.push_back(cycle[size_t(h) % cycle.size()]);
  const Shape shape{batch, tiling->tokens, heads, 128};
  const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
  const float scale = 0.088f;
  const Tensor got = ops::sliding_tile_attention(q.gpu, k.gpu, v.gpu, *tiling, windows, scale);
  EXPECT_EQ(got.device(), kGpu);
  const double err =
      rel_l2(got.to(Device::cpu()).to(DType::F32),
             testing::sta_masked_reference(q.cpu, k.cpu, v.cpu, grid, windows, scale));
  std::printf("[sta cuda] grid %lldx%lldx%lld, batch %lld, %lld heads: rel_l2 %.2e\n",
              (long long)grid[0], (long long)grid[1], (long long)grid[2], (long long)batch,
              (long long)heads, err);
  EXPECT_LE(err, 1e-2);
}

TEST(CudaSlidingTileAttention, MatchesTheReferenceOnOddGrids) {
  REQUIRE_GPU();
  // 2 x 2 x 3 tiles, the last of each axis partial (tile sizes from 384 down to 3 x 3 x 3).
  expect_matches_reference({9, 11, 19}, 2, 12, {{1, 1, 1}, {2, 1, 3}, {2, 2, 2}, {1, 2, 1}});
  // 2 x 2 x 2 tiles, partial on every axis.
  expect_matches_reference({7, 9, 10}, 2, 40, {{1, 1, 1}, {2, 2, 2}, {1, 2, 1}, {2, 1, 2}});
}

TEST(CudaSlidingTileAttention, TheFullWindowIsDenseAttention) {
  REQUIRE_GPU();
  const auto tiling = sta_tiling_for({7, 10, 13});
  const std::vector<StaWindow> full(12, sta_full_window(*tiling));
  const Shape shape{1, tiling->tokens, 12, 128};
  const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
  const Tensor got = ops::sliding_tile_attention(q.gpu, k.gpu, v.gpu, *tiling, full, 0.088f);
  EXPECT_LE(
      rel_l2(got.to(Device::cpu()).to(DType::F32), ops::attention(q.cpu, k.cpu, v.cpu, 0.088f)),
      1e-2);
}

TEST(CudaVideoMobaAttention, GatesAndAttentionMatchTheCpuOnPartialChunks) {
  REQUIRE_GPU();
  struct Case {
    std::array<int64_t, 3> grid, chunk;
    int64_t heads;
    VmobaRule rule;
  };
  const Case cases[] = {
      {{7, 9, 10},
       {2, 9, 10},
       12,
       {VmobaSelectMode::Threshold, 1, 0.25, VmobaThresholdType::QueryHead}},
      {{6, 10, 13}, {6, 4, 5}, 40, {VmobaSelectMode::TopK, 2, 0, VmobaThresholdType::QueryHead}},
  };
  for (const Case& c : cases) {
    const auto tiling = TokenTiling::for_grid(c.grid, c.chunk, "test");
    const Shape shape{2, tiling->tokens, c.heads, 128};
    const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
    const Tensor gpu_gates = ops::vmoba_gates(q.gpu, k.gpu, *tiling);
    EXPECT_TRUE(gpu_gates.device().is_cpu());
    EXPECT_LE(rel_l2(gpu_gates, ops::vmoba_gates(q.cpu, k.cpu, *tiling)), 1e-4);
    const Tensor got = ops::video_moba_attention(q.gpu, k.gpu, v.gpu, *tiling, c.rule, 0.088f);
    const Tensor want = ops::cpu::tile_list_attention(q.cpu, k.cpu, v.cpu, *tiling,
                                                      ops::vmoba_select(gpu_gates, c.rule), 0.088f);
    const double err = rel_l2(got.to(Device::cpu()).to(DType::F32), want);
    std::printf(
        "[vmoba cuda] grid %lldx%lldx%lld, chunks %lldx%lldx%lld, %lld heads: rel_l2 %.2e\n",
        (long long)c.grid[0], (long long)c.grid[1], (long long)c.grid[2], (long long)c.chunk[0],
        (long long)c.chunk[1], (long long)c.chunk[2], (long long)c.heads, err);
    EXPECT_LE(err, 1e-2);
  }
}

TEST(CudaSlidingTileAttention, RefusesHeadDimsAndDtypesItLacks) {
  REQUIRE_GPU();
  const auto tiling = sta_tiling_for({7, 10, 13});
  const std::vector<StaWindow> one(2, StaWindow{1, 1, 1});
  const Tensor q64 = testing::randn({1, tiling->tokens, 2, 64}).to(DType::BF16).to(kGpu);
  std::string m =
      testing::error_of([&] { ops::sliding_tile_attention(q64, q64, q64, *tiling, one, 0.1f); });
  EXPECT_TRUE(testing::contains(m, "SLIDING_TILE_ATTN") && testing::contains(m, "head_dim 128"))
      << m;
  const Tensor f32 = testing::randn({1, tiling->tokens, 2, 128}).to(kGpu);
  m = testing::error_of([&] { ops::sliding_tile_attention(f32, f32, f32, *tiling, one, 0.1f); });
  EXPECT_TRUE(testing::contains(m, "BF16")) << m;
}

}  // namespace
}  // namespace fastvideo
