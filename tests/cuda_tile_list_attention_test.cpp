// The tile-list backends on a GPU (ops/cuda/tile_list_attention.cpp: the dense Hopper kernel over
// key runs on sm_90, the portable block-sparse kernel over 64-token blocks, each also by name), on
// bf16-rounded random inputs, rel-L2 ≤ 1e-2:
// - SLIDING_TILE_ATTN against the reference written from the text (sta_reference.h): odd grids
//   (partial tiles on every axis), batch 2, heads 12 and 40, several windows per call, and the
//   full window against dense attention;
// - VMOBA_ATTN: the GPU's chunk gates against the CPU's, and its attention against the CPU kernel
//   over the selection the GPU's gates give (partial chunks, batch 2, heads 12 and 40), and the
//   selection on the GPU (sm_90) against the host's at FastVideo's 480p config.
// Skips where no GPU exists.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "attention/vmoba_config.h"
#include "core/cuda/cuda_context.h"
#include "ops/attention.h"
#include "ops/cpu/tile_list_attention.h"
#include "ops/cuda/key_runs_attention.h"
#include "ops/cuda/vmoba_kernels.h"
#include "ops/cuda/vsa_fine_stage.h"
#include "ops/sliding_tile_attention.h"
#include "ops/tile_runs.h"
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

using ops::cuda::BlockSparseKernel;

// The tile-list kernels this GPU runs: the portable one everywhere, Hopper's on sm_90.
std::vector<BlockSparseKernel> kernels_here() {
  std::vector<BlockSparseKernel> kernels{BlockSparseKernel::Portable};
  if (ops::cuda::hopper_tile_lists_here(kGpu)) kernels.push_back(BlockSparseKernel::Hopper);
  return kernels;
}
const char* kernel_name(BlockSparseKernel kernel) {
  return kernel == BlockSparseKernel::Hopper ? "Hopper" : "portable";
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
  const Tensor want = testing::sta_masked_reference(q.cpu, k.cpu, v.cpu, grid, windows, scale);
  const double err = rel_l2(got.to(Device::cpu()).to(DType::F32), want);
  std::printf("[sta cuda] grid %lldx%lldx%lld, batch %lld, %lld heads: rel_l2 %.2e\n",
              (long long)grid[0], (long long)grid[1], (long long)grid[2], (long long)batch,
              (long long)heads, err);
  EXPECT_LE(err, 1e-2);
  // Both kernels by name (the automatic choice above is Hopper on sm_90).
  const Tensor lists = sta_tile_lists(*tiling, batch, windows);
  for (const auto kernel : kernels_here()) {
    const Tensor each =
        ops::cuda::tile_list_attention_with(kernel, q.gpu, k.gpu, v.gpu, *tiling, lists, scale);
    EXPECT_LE(rel_l2(each.to(Device::cpu()).to(DType::F32), want), 1e-2) << kernel_name(kernel);
  }
  // The Hopper kernel at both of its key steps (the route picks one per list set).
  if (kernels_here().size() < 2) return;
  const auto layout = TileRuns::grouped(*tiling, same_list_groups(lists));
  const ops::cuda::DeviceTileRuns device_layout = ops::cuda::upload_tile_runs(*layout, kGpu);
  const auto [runs, counts] = tile_list_runs(*layout, lists);
  for (const int step : {176, 192}) {
    const Tensor each = ops::cuda::tile_runs_attention(q.gpu, k.gpu, v.gpu, device_layout,
                                                       runs.to(kGpu), counts.to(kGpu), step, scale);
    EXPECT_LE(rel_l2(each.to(Device::cpu()).to(DType::F32), want), 1e-2) << "key step " << step;
  }
}

TEST(CudaSlidingTileAttention, MatchesTheReferenceOnOddGrids) {
  REQUIRE_GPU();
  // 2 x 2 x 3 tiles, the last of each axis partial (tile sizes from 384 down to 3 x 3 x 3).
  expect_matches_reference({9, 11, 19}, 2, 12, {{1, 1, 1}, {2, 1, 3}, {2, 2, 2}, {1, 2, 1}});
  // 2 x 2 x 2 tiles, partial on every axis.
  expect_matches_reference({7, 9, 10}, 2, 40, {{1, 1, 1}, {2, 2, 2}, {1, 2, 1}, {2, 1, 2}});
}

// The step that pads fewer keys: STA's runs of three full 6x8x8 tiles (1,152 keys) are six steps
// of 192 but seven of 176.
TEST(CudaSlidingTileAttention, KeyStepPadsFewestKeys) {
  Tensor runs = Tensor::zeros({1, 1, 2, 1, 2}, DType::I32),
         counts = Tensor::empty({1, 1, 2}, DType::I32);
  counts.data<int32_t>()[0] = counts.data<int32_t>()[1] = 1;
  runs.data<int32_t>()[1] = 1152;
  runs.data<int32_t>()[3] = 1152;
  EXPECT_EQ(ops::cuda::best_key_step(runs, counts), 192);
  runs.data<int32_t>()[1] = runs.data<int32_t>()[3] = 176 * 5;
  EXPECT_EQ(ops::cuda::best_key_step(runs, counts), 176);
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
    for (const auto kernel : kernels_here()) {
      const Tensor each = ops::cuda::tile_list_attention_with(
          kernel, q.gpu, k.gpu, v.gpu, *tiling, ops::vmoba_select(gpu_gates, c.rule), 0.088f);
      EXPECT_LE(rel_l2(each.to(Device::cpu()).to(DType::F32), want), 1e-2) << kernel_name(kernel);
    }
  }
}

// The device selection (sm_90: query_head rules written as key runs on the GPU) keeps exactly the
// host's chunks: FastVideo's 480p config on the 1.3B model's grid, each chunking, 12 heads.
TEST(CudaVideoMobaAttention, DeviceSelectionKeepsTheHostsChunks) {
  REQUIRE_GPU();
  if (!ops::cuda::hopper_tile_lists_here(kGpu)) GTEST_SKIP() << "the device selection needs sm_90";
  const VmobaConfig config = VmobaConfig::from_json_text(kFastVideoVmoba480Json, "test");
  const std::array<int64_t, 3> grid{21, 30, 52};
  const Shape shape{1, grid[0] * grid[1] * grid[2], 12, 128};
  const Tensor q = testing::randn(shape).to(DType::BF16).to(kGpu);
  const Tensor k = testing::randn(shape).to(DType::BF16).to(kGpu);
  for (int64_t layer = 0; layer < 3; ++layer) {
    const VmobaPartition partition = config.partition(layer);
    const auto tiling = TokenTiling::for_grid(grid, config.chunk_box(partition, grid), "test");
    VmobaRule rules[2] = {config.rule(partition), config.rule(partition)};
    rules[1].mode = VmobaSelectMode::TopK;
    for (const VmobaRule& rule : rules) {
      ASSERT_TRUE(ops::cuda::vmoba_rule_on_device(rule, tiling->num_tiles));
      const auto [runs, counts] = ops::cuda::vmoba_device_runs(q, k, *tiling, rule);
      const auto [want_runs, want_counts] = tile_list_runs(
          *TileRuns::for_tiling(*tiling), ops::vmoba_select(ops::vmoba_gates(q, k, *tiling), rule));
      const Tensor got_runs = runs.to(Device::cpu()), got_counts = counts.to(Device::cpu());
      const int64_t rows = want_counts.numel(), R = got_runs.size(3), Rw = want_runs.size(3);
      int64_t differing = 0;
      for (int64_t row = 0; row < rows; ++row) {
        const int32_t n = want_counts.data<int32_t>()[row];
        bool same = got_counts.data<int32_t>()[row] == n;
        for (int32_t i = 0; same && i < 2 * n; ++i)
          same = got_runs.data<int32_t>()[row * R * 2 + i] ==
                 want_runs.data<int32_t>()[row * Rw * 2 + i];
        differing += !same;
      }
      std::printf("[vmoba cuda] %s chunks (%lld), %s: %lld of %lld rows differ\n",
                  std::string(vmoba_partition_name(partition)).c_str(),
                  (long long)tiling->num_tiles,
                  rule.mode == VmobaSelectMode::TopK ? "topk" : "threshold", (long long)differing,
                  (long long)rows);
      EXPECT_EQ(differing, 0);
    }
  }
}

// The device selection on gates made to hit its edges: one and two chunks (nothing or one other
// to sort), flat rows (min–max normalisation's zero range), ties among few values (the host's
// index order), odd N, threshold and topk; chunks of 10 key rows. A row of NaN gates (the host
// refuses it) must still give in-range runs, not write outside the row.
TEST(CudaVideoMobaAttention, DeviceSelectionKeepsTheHostsChunksAtTheEdges) {
  REQUIRE_GPU();
  if (!ops::cuda::hopper_tile_lists_here(kGpu)) GTEST_SKIP() << "the device selection needs sm_90";
  std::vector<VmobaRule> rules;
  for (const double tau : {0.0, 0.25, 0.6, 1.0})
    rules.push_back({VmobaSelectMode::Threshold, 1, tau});
  for (const int64_t topk : {2, 3, 50}) rules.push_back({VmobaSelectMode::TopK, topk, 0.25});
  const int64_t H = 3;
  for (const int64_t N : {1, 2, 3, 7, 40}) {
    TileRuns layout;  // tile_list_runs reads only the key offsets
    for (int64_t j = 0; j <= N; ++j) layout.key_offset.push_back(int32_t(10 * j));
    Tensor offsets = Tensor::empty({N + 1}, DType::I32);
    std::copy(layout.key_offset.begin(), layout.key_offset.end(), offsets.data<int32_t>());
    offsets = offsets.to(kGpu);
    const cudaStream_t stream = use_cuda_device(kGpu.index).stream();
    for (const char* kind : {"random", "flat", "ties"}) {
      Tensor gates = testing::randn({1, H, N, N});
      float* g = gates.data<float>();
      for (int64_t e = 0; e < gates.numel(); ++e) {
        if (std::string(kind) == "flat") g[e] = 0.5f;
        if (std::string(kind) == "ties") g[e] = float(int(std::fabs(g[e]) * 2.f) % 3);
      }
      const Tensor device_gates = gates.to(kGpu);
      for (const VmobaRule& rule : rules) {
        if (!ops::cuda::vmoba_rule_on_device(rule, N)) continue;
        const int64_t R = (N + 1) / 2;
        Tensor runs = Tensor::empty({1, H, N, R, 2}, DType::I32, kGpu);
        Tensor counts = Tensor::empty({1, H, N}, DType::I32, kGpu);
        ops::cuda::vmoba_select_runs(device_gates.data<float>(), N, H * N, N, rule,
                                     offsets.data<int32_t>(), R, runs.data<int32_t>(),
                                     counts.data<int32_t>(), stream);
        const auto [want_runs, want_counts] =
            tile_list_runs(layout, ops::vmoba_select(gates, rule));
        const Tensor got_runs = runs.to(Device::cpu()), got_counts = counts.to(Device::cpu());
        const int64_t Rw = want_runs.size(3);
        for (int64_t row = 0; row < H * N; ++row) {
          const int32_t n = want_counts.data<int32_t>()[row];
          ASSERT_EQ(got_counts.data<int32_t>()[row], n)
              << "N " << N << ", " << kind << ", row " << row;
          for (int32_t i = 0; i < 2 * n; ++i)
            EXPECT_EQ(got_runs.data<int32_t>()[row * R * 2 + i],
                      want_runs.data<int32_t>()[row * Rw * 2 + i])
                << "N " << N << ", " << kind << ", row " << row;
        }
      }
    }
    // NaN gates (the host refuses them): the device stays inside its rows.
    Tensor nan_gates = testing::randn({1, 1, N, N});
    for (int64_t e = 0; e < N * N; e += 3) nan_gates.data<float>()[e] = NAN;
    const Tensor device_nan = nan_gates.to(kGpu);
    for (const VmobaRule& rule : rules) {
      if (!ops::cuda::vmoba_rule_on_device(rule, N)) continue;
      const int64_t R = (N + 1) / 2;
      Tensor runs = Tensor::zeros({1, 1, N, R, 2}, DType::I32).to(kGpu);
      Tensor counts = Tensor::empty({1, 1, N}, DType::I32, kGpu);
      ops::cuda::vmoba_select_runs(device_nan.data<float>(), N, N, N, rule, offsets.data<int32_t>(),
                                   R, runs.data<int32_t>(), counts.data<int32_t>(), stream);
      const Tensor got_runs = runs.to(Device::cpu()), got_counts = counts.to(Device::cpu());
      for (int64_t row = 0; row < N; ++row) {
        const int32_t n = got_counts.data<int32_t>()[row];
        ASSERT_TRUE(n >= 1 && n <= R) << "N " << N << ", row " << row << ": " << n << " runs";
        for (int32_t i = 0; i < 2 * n; ++i) {
          const int32_t x = got_runs.data<int32_t>()[row * R * 2 + i];
          EXPECT_TRUE(x >= 0 && x <= 10 * N) << "N " << N << ", row " << row;
        }
      }
    }
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
