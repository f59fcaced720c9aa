// VIDEO_SPARSE_ATTN on a GPU (ops/cuda/video_sparse_attention.cpp) against the reference written
// from the text (vsa_reference.h) on bf16-rounded random inputs: odd grids (partial tiles on every
// axis), sparsity 0 / 0.5 / 0.8 / 0.9, batch 2, heads 12 and 40, with and without the gate
// (rel-L2 ≤ 1e-2); the selection compared exactly with the CPU rule applied to the GPU's own
// scores, ties included, and the selection kernel alone on long rows with NaN, ±inf and ±0;
// sparsity 0 without a gate against dense attention; the refusals. Outputs land in NaN-poisoned
// memory, so a row left unwritten fails. Skips where no GPU exists.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "attention/attention_registry.h"
#include "core/cuda/cuda_context.h"
#include "device_poison.h"
#include "ops/block_selection.h"
#include "ops/cuda/vsa_fine_stage.h"
#include "ops/cuda/vsa_kernels.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/video_sparse_attention.h"
#include "require_gpu.h"
#include "test_util.h"
#include "vsa_reference.h"

namespace fastvideo {
namespace {

using testing::rel_l2;

const Device kGpu = Device::cuda(0);
constexpr double kBound = 1e-2;  // bf16 attention
// The coarse scores come from BF16 tile means (f32 sums rounded once, as FastVideo's): about 1e-3
// relative L2 from the f64 reference's, so at the k-th boundary a GPU selection may differ from the
// rule's on the reference scores by about 1e-3 of the row's largest |score| (reference_vsa's
// near_tie). Bounds with ~10x room.
constexpr double kScoreBound = 1e-2;
constexpr float kNearTie = 1e-2f;

// A random f32 tensor rounded to bf16 (what the GPU sees), and its bf16 copy on the GPU.
struct Input {
  Tensor cpu, gpu;
};
Input random_input(Shape shape) {
  const Tensor gpu = testing::randn(shape).to(DType::BF16).to(kGpu);
  return {gpu.to(Device::cpu()).to(DType::F32), gpu};
}

// The GPU's selected tiles as a host vector, for reference_vsa.
std::vector<int32_t> selected_tiles(const VsaSelection& sel) {
  const Tensor s = sel.selected.to(Device::cpu());
  return {s.data<int32_t>(), s.data<int32_t>() + s.numel()};
}

struct Case {
  std::array<int64_t, 3> grid;
  int64_t batch, heads;
  double sparsity;
  bool gate;
  int64_t head_dim = 128;  // 64 runs on the 128-channel kernels zero-padded
};

std::string name(const Case& c) {
  return str_cat("grid [", c.grid[0], ",", c.grid[1], ",", c.grid[2], "] B=", c.batch,
                 " H=", c.heads, " D=", c.head_dim, " sparsity ", c.sparsity,
                 c.gate ? " gated" : " no gate");
}

void expect_matches_reference(const Case& c) {
  SCOPED_TRACE(name(c));
  const auto tiling = vsa_tiling_for(c.grid);
  const Shape shape{c.batch, tiling->tokens, c.heads, c.head_dim};
  const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
  const Input g = c.gate ? random_input(shape) : Input{};
  const int64_t topk = vsa_topk(c.sparsity, tiling->num_tiles);
  const float scale = 1.f / std::sqrt(float(c.head_dim));
  VsaSelection sel;
  testing::poison_next_outputs(shape, kGpu);
  if (c.head_dim != 128)
    testing::poison_next_outputs({c.batch, tiling->tokens, c.heads, 128}, kGpu);
  const Tensor out =
      ops::video_sparse_attention(q.gpu, k.gpu, v.gpu, g.gpu, *tiling, topk, scale, &sel);
  const std::vector<int32_t> gpu_tiles = selected_tiles(sel);
  const testing::VsaReference ref =
      testing::reference_vsa(q.cpu, k.cpu, v.cpu, g.cpu, c.grid, topk, scale, &gpu_tiles, kNearTie);
  EXPECT_EQ(ref.invalid_rows, 0) << "rows whose GPU selection is no top-k of the scores";
  const Tensor out_cpu = out.to(Device::cpu()).to(DType::F32);
  EXPECT_TRUE(ops::all_finite(out_cpu));
  EXPECT_LT(rel_l2(out_cpu, ref.out), kBound);
  const Tensor scores = sel.scores.to(Device::cpu());
  EXPECT_LT(rel_l2(scores, ref.scores), kScoreBound);
  // The GPU's selection is the rule applied to the GPU's scores, exactly.
  const Tensor selected = sel.selected.to(Device::cpu());
  const int64_t rows = scores.numel() / tiling->num_tiles;
  std::vector<int32_t> expected(static_cast<size_t>(topk));
  int64_t mismatches = 0;
  for (int64_t r = 0; r < rows; ++r) {
    select_top_blocks(scores.data<float>() + r * tiling->num_tiles, tiling->num_tiles, topk,
                      expected.data());
    mismatches +=
        !std::equal(expected.begin(), expected.end(), selected.data<int32_t>() + r * topk);
  }
  EXPECT_EQ(mismatches, 0) << "of " << rows << " rows";
}

TEST(CudaVideoSparseAttention, MatchesTheReferenceOnOddGrids) {
  REQUIRE_GPU();
  for (double sparsity : {0.0, 0.5, 0.8, 0.9})
    expect_matches_reference({{5, 6, 7}, 2, 12, sparsity, true});
  expect_matches_reference({{9, 10, 11}, 1, 12, 0.8, false});
  expect_matches_reference({{6, 5, 9}, 1, 40, 0.9, true});
  expect_matches_reference({{8, 8, 8}, 2, 12, 0.5, true});  // whole tiles only
  // The packed walk with lists longer than a warp's 32 entries (40 tiles, topk 36), so the
  // ordering by box size carries its counts from one 32-entry chunk to the next.
  expect_matches_reference({{5, 14, 18}, 1, 12, 0.1, true});
  expect_matches_reference({{5, 6, 7}, 2, 12, 0.8, true, 64});
  expect_matches_reference({{9, 10, 11}, 1, 3, 0.0, false, 64});
}

TEST(CudaVideoSparseAttention, SelectsTheLowestTilesAmongEqualScores) {
  REQUIRE_GPU();
  const auto tiling = vsa_tiling_for({5, 6, 7});
  const Shape shape{1, tiling->tokens, 12, 128};
  const Tensor q = testing::randn(shape).to(DType::BF16).to(kGpu);
  const Tensor k = Tensor::full(shape, 0.25f).to(DType::BF16).to(kGpu);
  VsaSelection sel;
  ops::video_sparse_attention(q, k, q, {}, *tiling, 3, 0.1f, &sel);
  const Tensor selected = sel.selected.to(Device::cpu());
  for (int64_t row = 0; row < 12 * tiling->num_tiles; ++row)
    for (int n = 0; n < 3; ++n)
      ASSERT_EQ(selected.data<int32_t>()[row * 3 + n], n) << "row " << row;
}

// The selection kernels alone against the CPU rule on rows as long as the 1.3B's (624 tiles), both
// sides of the warp-per-row kernel's limit (768; longer rows take the CTA-per-row kernel) and of
// its builds for 8 and 16 chunks (256, 257, 512, 513), the 14B 720p's (1,440) and beyond (2,000),
// and short: equal scores everywhere, three values (ties straddling every 32-wide chunk), NaN,
// ±inf and ±0, topk from 1 to n; then the row softmax as BF16 probabilities where the row is
// finite; a call without the softmax selects the same, and neither changes the scores.
TEST(CudaVideoSparseAttention, SelectionMatchesTheCpuRuleOnLongRowsAndOddValues) {
  REQUIRE_GPU();
  const cudaStream_t stream = use_cuda_device(kGpu.index).stream();
  constexpr int64_t kRows = 5;
  for (const int64_t n : {37, 256, 257, 512, 513, 624, 768, 769, 1440, 2000}) {
    const int64_t ld = (n + 3) / 4 * 4;
    Tensor host = Tensor::zeros({kRows, ld}, DType::F32);
    float* v = host.data<float>();
    const Tensor noise = testing::randn({kRows, n});
    for (int64_t j = 0; j < n; ++j) {
      v[j] = noise.data<float>()[j];                   // row 0: random
      v[ld + j] = 0.5f;                                // row 1: all equal
      v[2 * ld + j] = float((j * 7) % 3);              // row 2: three values
      v[3 * ld + j] = noise.data<float>()[3 * n + j];  // row 3: odd values among random ones
      v[4 * ld + j] = -std::fabs(noise.data<float>()[4 * n + j]);  // row 4: all negative
    }
    // Both NaNs: the all-ones one orders below every other score (its key is 0, the warp
    // kernel's padding), so at topk = n it is the k-th key itself.
    const float all_ones_nan = std::bit_cast<float>(0xffffffffu);
    const float odd[] = {std::numeric_limits<float>::quiet_NaN(),
                         INFINITY,
                         -INFINITY,
                         -0.f,
                         0.f,
                         INFINITY,
                         0.f,
                         all_ones_nan,
                         all_ones_nan};
    for (int i = 0; i < 9; ++i) v[3 * ld + (i * 11) % n] = odd[i];
    for (const int64_t topk : {int64_t(1), int64_t(7), n / 10 + 1, n - 1, n}) {
      if (topk > n || topk < 1) continue;
      // With the softmax as BF16 probabilities (VSA's gated coarse stage), then without one (VSA
      // without a gate, SLA): the same selection both times, the scores left as they were.
      Tensor probs = Tensor::empty({kRows, ld}, DType::BF16, kGpu);
      Tensor got;
      for (const bool with_probs : {true, false}) {
        const Tensor scores = host.to(kGpu);
        Tensor selected = Tensor::empty({kRows, topk}, DType::I32, kGpu);
        // -1 everywhere first, so an entry a kernel leaves unwritten fails (a cached block may
        // hold the previous call's answer).
        ASSERT_EQ(cudaMemsetAsync(selected.raw_data(), 0xff, size_t(kRows * topk) * 4, stream),
                  cudaSuccess);
        ops::cuda::vsa_select_and_softmax(scores.data<float>(), kRows, n, ld, topk,
                                          selected.data<int32_t>(),
                                          with_probs ? probs.raw_data() : nullptr, stream);
        const Tensor selected_host = selected.to(Device::cpu());
        const Tensor scores_host = scores.to(Device::cpu());
        ASSERT_EQ(std::memcmp(scores_host.raw_data(), host.raw_data(), size_t(kRows * ld) * 4), 0)
            << (with_probs ? "with" : "without") << " the softmax";
        if (with_probs) {
          got = selected_host;
        } else {
          ASSERT_TRUE(std::equal(got.data<int32_t>(), got.data<int32_t>() + kRows * topk,
                                 selected_host.data<int32_t>()));
        }
      }
      const Tensor probs_host = probs.to(Device::cpu()).to(DType::F32);
      std::vector<int32_t> want(static_cast<size_t>(topk));
      for (int64_t r = 0; r < kRows; ++r) {
        select_top_blocks(v + r * ld, n, topk, want.data());
        ASSERT_TRUE(std::equal(want.begin(), want.end(), got.data<int32_t>() + r * topk))
            << "n " << n << ", topk " << topk << ", row " << r;
        if (r == 3) continue;  // its NaN makes the softmax NaN
        double max = -INFINITY, sum = 0;
        for (int64_t j = 0; j < n; ++j) max = std::max(max, double(v[r * ld + j]));
        for (int64_t j = 0; j < n; ++j) sum += std::exp(double(v[r * ld + j]) - max);
        for (int64_t j = 0; j < n; ++j) {
          const double p = std::exp(double(v[r * ld + j]) - max) / sum;
          ASSERT_NEAR(probs_host.data<float>()[r * ld + j], p, 1e-6 + 4e-3 * p)
              << "n " << n << ", row " << r << ", column " << j;
        }
      }
    }
  }
}

// On rows in tile order (the transformer's under VSA) the Hopper kernel reads each tile where it
// lies, without tiled copies; the portable route copies from those rows. Each gives its own raster
// call's output, rows gathered back: grids with partial tiles in the packed walk (5×6×7) and in
// the tile walk (8×8×7: padding an eighth), whole tiles (8×8×8), with a gate and without one,
// batch 2. The Hopper kernel only on sm_90.
TEST(CudaVideoSparseAttention, RowsInTileOrderGiveTheRasterOutput) {
  REQUIRE_GPU();
  const bool hopper = CudaContext::get(0).info().major == 9;
  for (const std::array<int64_t, 3> grid :
       {std::array<int64_t, 3>{5, 6, 7}, {8, 8, 7}, {8, 8, 8}}) {
    const auto raster = vsa_tiling_for(grid);
    const auto ordered = vsa_tiling_for(grid, /*tile_order=*/true);
    const Shape shape{2, raster->tokens, 12, 128};
    const Input q = random_input(shape), k = random_input(shape), v = random_input(shape),
                g = random_input(shape);
    const int64_t topk = vsa_topk(0.8, raster->num_tiles);
    const auto index = [](const std::vector<int32_t>& rows) {
      Tensor t = Tensor::empty({int64_t(rows.size())}, DType::I32);
      std::copy(rows.begin(), rows.end(), t.data<int32_t>());
      return t.to(kGpu);
    };
    const Tensor to_tiles = index(ordered->token_of_row), to_raster = index(ordered->row_of_token);
    const auto reorder = [&](const Tensor& x, const Tensor& rows) {
      return ops::gather_rows(x.reshape({2, shape[1], 12 * 128}), rows).reshape(shape);
    };
    for (const auto kernel :
         {ops::cuda::BlockSparseKernel::Hopper, ops::cuda::BlockSparseKernel::Portable}) {
      if (kernel == ops::cuda::BlockSparseKernel::Hopper && !hopper) continue;
      for (const bool gated : {true, false}) {  // without a gate the coarse output is skipped
        const Tensor gate = gated ? g.gpu : Tensor();
        // Against the same kernel on raster rows: the two kernels differ by bf16 rounding (2.8e-3
        // on an H100); the two row orders run the same arithmetic on the same tiles (means summed
        // in slot order, the same selection, the same stages), so only a misplaced row can
        // differ.
        const Tensor want = ops::cuda::video_sparse_attention_with(kernel, q.gpu, k.gpu, v.gpu,
                                                                   gate, *raster, topk, 0.09f)
                                .to(Device::cpu())
                                .to(DType::F32);
        testing::poison_next_outputs(shape, kGpu);
        const Tensor got =
            reorder(ops::cuda::video_sparse_attention_with(
                        kernel, reorder(q.gpu, to_tiles), reorder(k.gpu, to_tiles),
                        reorder(v.gpu, to_tiles), gated ? reorder(gate, to_tiles) : Tensor(),
                        *ordered, topk, 0.09f),
                    to_raster)
                .to(Device::cpu())
                .to(DType::F32);
        EXPECT_TRUE(ops::all_finite(got)) << "a row left unwritten?";
        EXPECT_LT(rel_l2(got, want), 1e-5)
            << "grid " << grid[0] << "x" << grid[1] << "x" << grid[2] << ", "
            << (kernel == ops::cuda::BlockSparseKernel::Hopper ? "Hopper" : "portable")
            << (gated ? ", gated" : ", no gate");
      }
    }
  }
}

TEST(CudaVideoSparseAttention, WithoutSparsityOrGateIsDenseAttention) {
  REQUIRE_GPU();
  const auto tiling = vsa_tiling_for({7, 9, 10});
  const Shape shape{2, tiling->tokens, 12, 128};
  const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
  const Tensor out =
      ops::video_sparse_attention(q.gpu, k.gpu, v.gpu, {}, *tiling, tiling->num_tiles, 0.09f);
  EXPECT_LT(rel_l2(out.to(Device::cpu()).to(DType::F32),
                   testing::reference_attention(q.cpu, k.cpu, v.cpu, 0.09f)),
            kBound);
}

TEST(CudaVideoSparseAttention, RefusesHeadDimsItLacks) {
  REQUIRE_GPU();
  const auto tiling = vsa_tiling_for({4, 4, 4});
  const Tensor x = testing::randn({1, 64, 2, 96}).to(DType::BF16).to(kGpu);
  const std::string m =
      testing::error_of([&] { ops::video_sparse_attention(x, x, x, {}, *tiling, 1, 0.1f); });
  EXPECT_NE(m.find("needs head_dim 64 or 128, got 96"), std::string::npos) << m;
}

// Both fine stages through the whole forward on the tiled copies: the Hopper kernel (sm_90 only;
// rows written back to their tokens by its epilogue) and the portable route (the portable kernel,
// then untiling), each against the reference and against each other.
TEST(CudaVideoSparseAttention, HopperAndPortableFineStagesAgreeOnOddGrids) {
  REQUIRE_GPU();
  if (CudaContext::get(0).info().major != 9) GTEST_SKIP() << "the Hopper kernel needs sm_90";
  using ops::cuda::BlockSparseKernel;
  // Grids with over an eighth padding take the Hopper kernel's packed walk, the others one step
  // per tile (vsa_packs_key_tiles): 8x8x7 has partial tiles at exactly an eighth. The last grid
  // again at head_dim 64 (zero-padded to the kernels' 128).
  struct Case {
    std::array<int64_t, 3> grid;
    int64_t head_dim;
    bool packed;
  };
  for (const auto& [grid, head_dim, packed] :
       {Case{{5, 6, 7}, 128, true}, Case{{9, 10, 11}, 128, true}, Case{{4, 4, 12}, 128, false},
        Case{{8, 8, 7}, 128, false}, Case{{3, 9, 5}, 128, true}, Case{{3, 9, 5}, 64, true}}) {
    SCOPED_TRACE(str_cat("grid ", grid[0], "x", grid[1], "x", grid[2], " head_dim ", head_dim));
    const auto tiling = vsa_tiling_for(grid);
    ASSERT_EQ(ops::cuda::vsa_packs_key_tiles(tiling->tokens, tiling->padded_len), packed);
    const Shape shape{2, tiling->tokens, 12, head_dim};
    const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
    const Input g = random_input(shape);
    const int64_t topk = vsa_topk(0.5, tiling->num_tiles);
    VsaSelection sel;
    testing::poison_next_outputs(shape, kGpu);
    const Tensor hopper = ops::cuda::video_sparse_attention_with(
        BlockSparseKernel::Hopper, q.gpu, k.gpu, v.gpu, g.gpu, *tiling, topk, 0.09f, &sel);
    testing::poison_next_outputs(shape, kGpu);
    const Tensor portable = ops::cuda::video_sparse_attention_with(
        BlockSparseKernel::Portable, q.gpu, k.gpu, v.gpu, g.gpu, *tiling, topk, 0.09f);
    // Against the reference on the GPU's selection: a near-tie in the coarse scores (from BF16
    // means there, f64 here) may pick another tile, which moved the output by 1.25e-2 once (grid
    // 9x10x11, when the GPU's scores were f32).
    const std::vector<int32_t> gpu_tiles = selected_tiles(sel);
    const testing::VsaReference ref =
        testing::reference_vsa(q.cpu, k.cpu, v.cpu, g.cpu, grid, topk, 0.09f, &gpu_tiles, kNearTie);
    EXPECT_EQ(ref.invalid_rows, 0) << "rows whose GPU selection is no top-k of the scores";
    const Tensor h = hopper.to(Device::cpu()).to(DType::F32);
    const Tensor p = portable.to(Device::cpu()).to(DType::F32);
    EXPECT_TRUE(ops::all_finite(h)) << "NaN/Inf from the Hopper route (a row left unwritten?)";
    EXPECT_TRUE(ops::all_finite(p)) << "NaN/Inf from the portable route";
    EXPECT_LT(rel_l2(h, ref.out), kBound);
    EXPECT_LT(rel_l2(p, ref.out), kBound);
    EXPECT_LT(rel_l2(h, p), kBound);
  }
}

}  // namespace
}  // namespace fastvideo
