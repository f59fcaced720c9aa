// VIDEO_SPARSE_ATTN on a GPU (ops/cuda/video_sparse_attention.cpp) against the reference written
// from the text (vsa_reference.h) on bf16-rounded random inputs: odd grids (partial tiles on every
// axis), sparsity 0 / 0.5 / 0.8 / 0.9, batch 2, heads 12 and 40, with and without the gate
// (rel-L2 ≤ 1e-2); the selection compared exactly with the CPU rule applied to the GPU's own
// scores, ties included; sparsity 0 without a gate against dense attention; the refusals. Skips
// where no GPU exists.
#include <gtest/gtest.h>

#include <cmath>

#include "attention/attention_registry.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/block_sparse_attention.h"
#include "ops/elementwise.h"
#include "ops/video_sparse_attention.h"
#include "require_gpu.h"
#include "test_util.h"
#include "vsa_reference.h"

namespace fastvideo {
namespace {

using testing::rel_l2;

const Device kGpu = Device::cuda(0);
constexpr double kBound = 1e-2;  // bf16 attention

// A random f32 tensor rounded to bf16 (what the GPU sees), and its bf16 copy on the GPU.
struct Input {
  Tensor cpu, gpu;
};
Input random_input(Shape shape) {
  const Tensor gpu = testing::randn(shape).to(DType::BF16).to(kGpu);
  return {gpu.to(Device::cpu()).to(DType::F32), gpu};
}

struct Case {
  std::array<int64_t, 3> grid;
  int64_t batch, heads;
  double sparsity;
  bool gate;
};

std::string name(const Case& c) {
  return str_cat("grid [", c.grid[0], ",", c.grid[1], ",", c.grid[2], "] B=", c.batch,
                 " H=", c.heads, " sparsity ", c.sparsity, c.gate ? " gated" : " no gate");
}

void expect_matches_reference(const Case& c) {
  SCOPED_TRACE(name(c));
  const auto tiling = VsaTiling::for_grid(c.grid);
  const Shape shape{c.batch, tiling->tokens, c.heads, 128};
  const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
  const Input g = c.gate ? random_input(shape) : Input{};
  const int64_t topk = vsa_topk(c.sparsity, tiling->num_tiles);
  const float scale = 1.f / std::sqrt(128.f);
  VsaSelection sel;
  const Tensor out =
      ops::video_sparse_attention(q.gpu, k.gpu, v.gpu, g.gpu, *tiling, topk, scale, &sel);
  const testing::VsaReference ref = testing::reference_vsa(q.cpu, k.cpu, v.cpu, g.cpu, c.grid, topk, scale);
  const Tensor out_cpu = out.to(Device::cpu()).to(DType::F32);
  EXPECT_TRUE(ops::all_finite(out_cpu));
  EXPECT_LT(rel_l2(out_cpu, ref.out), kBound);
  const Tensor scores = sel.scores.to(Device::cpu());
  EXPECT_LT(rel_l2(scores, ref.scores), 1e-5);
  // The GPU's selection is the rule applied to the GPU's scores, exactly.
  const Tensor selected = sel.selected.to(Device::cpu());
  const int64_t rows = scores.numel() / tiling->num_tiles;
  std::vector<int32_t> expected(static_cast<size_t>(topk));
  int64_t mismatches = 0;
  for (int64_t r = 0; r < rows; ++r) {
    vsa_select_tiles(scores.data<float>() + r * tiling->num_tiles, tiling->num_tiles, topk,
                     expected.data());
    mismatches += !std::equal(expected.begin(), expected.end(), selected.data<int32_t>() + r * topk);
  }
  EXPECT_EQ(mismatches, 0) << "of " << rows << " rows";
}

TEST(CudaVideoSparseAttention, MatchesTheReferenceOnOddGrids) {
  REQUIRE_GPU();
  for (double sparsity : {0.0, 0.5, 0.8, 0.9}) expect_matches_reference({{5, 6, 7}, 2, 12, sparsity, true});
  expect_matches_reference({{9, 10, 11}, 1, 12, 0.8, false});
  expect_matches_reference({{6, 5, 9}, 1, 40, 0.9, true});
  expect_matches_reference({{8, 8, 8}, 2, 12, 0.5, true});  // whole tiles only
}

TEST(CudaVideoSparseAttention, SelectsTheLowestTilesAmongEqualScores) {
  REQUIRE_GPU();
  const auto tiling = VsaTiling::for_grid({5, 6, 7});
  const Shape shape{1, tiling->tokens, 12, 128};
  const Tensor q = testing::randn(shape).to(DType::BF16).to(kGpu);
  const Tensor k = Tensor::full(shape, 0.25f).to(DType::BF16).to(kGpu);
  VsaSelection sel;
  ops::video_sparse_attention(q, k, q, {}, *tiling, 3, 0.1f, &sel);
  const Tensor selected = sel.selected.to(Device::cpu());
  for (int64_t row = 0; row < 12 * tiling->num_tiles; ++row)
    for (int n = 0; n < 3; ++n) ASSERT_EQ(selected.data<int32_t>()[row * 3 + n], n) << "row " << row;
}

TEST(CudaVideoSparseAttention, WithoutSparsityOrGateIsDenseAttention) {
  REQUIRE_GPU();
  const auto tiling = VsaTiling::for_grid({7, 9, 10});
  const Shape shape{2, tiling->tokens, 12, 128};
  const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
  const Tensor out = ops::video_sparse_attention(q.gpu, k.gpu, v.gpu, {}, *tiling,
                                                 tiling->num_tiles, 0.09f);
  EXPECT_LT(rel_l2(out.to(Device::cpu()).to(DType::F32),
                   testing::reference_attention(q.cpu, k.cpu, v.cpu, 0.09f)),
            kBound);
}

TEST(CudaVideoSparseAttention, RefusesHeadDimsItLacks) {
  REQUIRE_GPU();
  const auto tiling = VsaTiling::for_grid({4, 4, 4});
  const Tensor x = testing::randn({1, 64, 2, 64}).to(DType::BF16).to(kGpu);
  const std::string m = testing::error_of([&] { ops::video_sparse_attention(x, x, x, {}, *tiling, 1, 0.1f); });
  EXPECT_NE(m.find("needs head_dim 128, got 64"), std::string::npos) << m;
}

// The fine stage alone, each kernel against the other on the same selection: the Hopper kernel
// (sm_90 only) and the portable one agree, and both match dense attention under the block mask.
TEST(CudaBlockSparseAttention, HopperAndPortableKernelsAgreeOnOddTileCounts) {
  REQUIRE_GPU();
  if (CudaContext::get(0).info().major != 9) GTEST_SKIP() << "the Hopper kernel needs sm_90";
  for (const std::array<int64_t, 3> grid : {std::array<int64_t, 3>{5, 6, 7}, {9, 10, 11}, {4, 4, 12}}) {
    const auto tiling = VsaTiling::for_grid(grid);
    const Shape shape{2, tiling->tokens, 12, 128};
    const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
    const int64_t topk = vsa_topk(0.5, tiling->num_tiles);
    // The whole VSA forward through each kernel: the rest of the pipeline is shared.
    VsaSelection sel;
    const Tensor automatic = ops::video_sparse_attention(q.gpu, k.gpu, v.gpu, {}, *tiling, topk, 0.09f, &sel);
    const testing::VsaReference ref = testing::reference_vsa(q.cpu, k.cpu, v.cpu, {}, grid, topk, 0.09f);
    EXPECT_LT(rel_l2(automatic.to(Device::cpu()).to(DType::F32), ref.out), kBound)
        << "grid " << grid[0] << "x" << grid[1] << "x" << grid[2];
    // Tiled inputs straight to both kernels.
    const Shape tiled{2, tiling->padded_len, 12, 128};
    const Tensor tq = testing::randn(tiled).to(DType::BF16).to(kGpu);
    const Tensor tk = testing::randn(tiled).to(DType::BF16).to(kGpu);
    const Tensor tv = testing::randn(tiled).to(DType::BF16).to(kGpu);
    Tensor sizes = Tensor::empty({tiling->num_tiles}, DType::I32);
    std::copy(tiling->tile_sizes.begin(), tiling->tile_sizes.end(), sizes.data<int32_t>());
    sizes = sizes.to(kGpu);
    Tensor hopper = Tensor::empty(tiled, DType::BF16, kGpu), portable = Tensor::empty(tiled, DType::BF16, kGpu);
    ops::cuda::hopper_block_sparse_attention(tq, tk, tv, sel.selected, sizes, 0.09f, hopper);
    ops::cuda::portable_block_sparse_attention(tq, tk, tv, sel.selected, sizes, 0.09f, portable);
    // Compare the valid rows only (padding rows may differ).
    const Tensor h = hopper.to(Device::cpu()).to(DType::F32), pr = portable.to(Device::cpu()).to(DType::F32);
    double diff = 0, norm = 0;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t slot = 0; slot < tiling->padded_len; ++slot) {
        if (tiling->token_of_slot[size_t(slot)] < 0) continue;
        const int64_t base = (b * tiling->padded_len + slot) * 12 * 128;
        for (int64_t e = 0; e < 12 * 128; ++e) {
          const double x = h.data<float>()[base + e], y = pr.data<float>()[base + e];
          diff += (x - y) * (x - y);
          norm += y * y;
        }
      }
    EXPECT_LT(std::sqrt(diff / norm), kBound);
  }
}

}  // namespace
}  // namespace fastvideo
