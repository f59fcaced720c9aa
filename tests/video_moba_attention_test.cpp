// VMOBA_ATTN (issue 14): FastVideo's moba_config_path JSON (its shipped files read, malformed ones
// refused by key), the per-layer chunking (FastVideo's token order on divisible grids, partial
// chunks otherwise), the selection rules on gates whose answers are worked out by hand, the
// attention against dense attention with the explicit chunk mask, and tiny generations on the CPU.
#include "ops/video_moba_attention.h"

#include <gtest/gtest.h>

#include <fstream>

#include "attention/attention_registry.h"
#include "attention/vmoba_attn_backend.h"
#include "attention/vmoba_config.h"
#include "fastvideo/video_generator.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

using testing::contains;
using testing::error_of;

TEST(VmobaConfig, ReadsFastVideosFileAndCyclesTheLayers) {
  const VmobaConfig c = VmobaConfig::from_json_text(kFastVideoVmoba480Json, "480.json");
  EXPECT_EQ(c.temporal_chunk_size, 2);
  EXPECT_EQ(c.spatial_chunk_size, (std::array<int64_t, 2>{3, 4}));
  EXPECT_EQ(c.st_chunk_size, (std::array<int64_t, 3>{4, 6, 4}));
  EXPECT_EQ(c.select_mode, VmobaSelectMode::Threshold);
  EXPECT_EQ(c.threshold_type, VmobaThresholdType::QueryHead);
  EXPECT_EQ(c.first_full_step, 12);
  EXPECT_EQ(c.partition(0), VmobaPartition::Temporal);
  EXPECT_EQ(c.partition(1), VmobaPartition::Spatial);
  EXPECT_EQ(c.partition(2), VmobaPartition::SpatioTemporal);
  EXPECT_EQ(c.partition(29), VmobaPartition::SpatioTemporal);
  // 480×832×77 latents after patchify: 20×30×52 tokens.
  const std::array<int64_t, 3> grid = {20, 30, 52};
  EXPECT_EQ(c.chunk_box(VmobaPartition::Temporal, grid), (std::array<int64_t, 3>{2, 30, 52}));
  EXPECT_EQ(c.chunk_box(VmobaPartition::Spatial, grid), (std::array<int64_t, 3>{20, 3, 4}));
  EXPECT_EQ(c.rule(VmobaPartition::Spatial).topk, 20);
  // first_full_layer shifts the cycle (Python's modulo: never negative).
  const VmobaConfig shifted = VmobaConfig::from_json_text(
      R"({"temporal_chunk_size": 1, "temporal_topk": 1, "spatial_chunk_size": [1, 1],
          "spatial_topk": 1, "st_chunk_size": [1, 1, 1], "st_topk": 1, "first_full_layer": 1})",
      "s.json");
  EXPECT_EQ(shifted.partition(0), VmobaPartition::SpatioTemporal);
  EXPECT_EQ(shifted.partition(1), VmobaPartition::Temporal);
}

TEST(VmobaConfig, MalformedFilesAreRefusedNamingTheKey) {
  const std::string base =
      R"("temporal_chunk_size": 2, "temporal_topk": 3, "spatial_chunk_size": [3, 4],
         "spatial_topk": 20, "st_chunk_size": [4, 6, 4], "st_topk": 15)";
  for (const auto& [json, expected] : std::initializer_list<std::pair<std::string, const char*>>{
           {"[1]", "a VMoBA config is a JSON object"},
           {"{", "not valid JSON"},
           {"{" + base + R"(, "moba_treshold": 0.3})", "unknown key 'moba_treshold'"},
           {R"({"temporal_chunk_size": 2})", "required key"},
           {"{" + base + R"(, "moba_select_mode": "top-k"})", "'moba_select_mode' = 'top-k'"},
           {"{" + base + R"(, "moba_threshold": 1.5})", "'moba_threshold' = 1.5"},
           {"{" + base + R"(, "moba_threshold_type": "row"})", "'moba_threshold_type' = 'row'"},
           {"{" + base + R"(, "moba_select_mode": "topk", "moba_threshold_type": "block"})",
            "'block' has no topk form"},
           {"{" + base + R"(, "temporal_layer": 0, "spatial_layer": 0, "st_layer": 0})", "all 0"},
       }) {
    const std::string m = error_of([&] { VmobaConfig::from_json_text(json, "v.json"); });
    EXPECT_TRUE(contains(m, "v.json") && contains(m, expected)) << json << "\n-> " << m;
  }
  // Zero-sized chunks, by key.
  std::string zero = R"({"temporal_chunk_size": 0, "temporal_topk": 3, "spatial_chunk_size": [3, 4],
         "spatial_topk": 20, "st_chunk_size": [4, 6, 4], "st_topk": 15})";
  EXPECT_TRUE(contains(error_of([&] { VmobaConfig::from_json_text(zero, "z.json"); }),
                       "'temporal_chunk_size' = 0"));
  zero = R"({"temporal_chunk_size": 2, "temporal_topk": 3, "spatial_chunk_size": [3, 0],
         "spatial_topk": 20, "st_chunk_size": [4, 6, 4], "st_topk": 15})";
  EXPECT_TRUE(contains(error_of([&] { VmobaConfig::from_json_text(zero, "z.json"); }),
                       "'spatial_chunk_size' = [3,0]"));
}

// On a grid the chunks divide, the chunk tiling orders tokens as FastVideo's process_moba_input:
// spatial chunks position (t, h, w) at (((a·ncw + b)·T + t)·ch + i)·cw + j with h = a·ch + i,
// w = b·cw + j; spatio-temporal cubes likewise. Partial chunks fill the far edges otherwise.
TEST(VmobaChunks, FollowFastVideosTokenOrderAndAllowPartialChunks) {
  const std::array<int64_t, 3> grid = {4, 6, 8};
  const int64_t T = 4, ch = 3, cw = 4, ncw = 2;
  const auto spatial = TokenTiling::for_grid(grid, {T, ch, cw}, "test");
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < 6; ++h)
      for (int64_t w = 0; w < 8; ++w) {
        const int64_t a = h / ch, i = h % ch, b = w / cw, j = w % cw;
        const int64_t position = (((a * ncw + b) * T + t) * ch + i) * cw + j;
        ASSERT_EQ(spatial->slot_of_token[size_t((t * 6 + h) * 8 + w)], position);
      }
  const auto cubes = TokenTiling::for_grid(grid, {2, 3, 4}, "test");
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < 6; ++h)
      for (int64_t w = 0; w < 8; ++w) {
        const int64_t cube = ((t / 2) * 2 + h / 3) * 2 + w / 4;
        const int64_t position = ((cube * 2 + t % 2) * 3 + h % 3) * 4 + w % 4;
        ASSERT_EQ(cubes->slot_of_token[size_t((t * 6 + h) * 8 + w)], position);
      }
  const auto partial = TokenTiling::for_grid({5, 7, 9}, {2, 3, 4}, "test");
  EXPECT_EQ(partial->num_tiles, 3 * 3 * 3);
  EXPECT_EQ(partial->tile_sizes.back(), 1 * 1 * 1);
}

// A [1, 1, N, N] gate tensor from rows.
Tensor gates_of(const std::vector<std::vector<float>>& rows) {
  const int64_t n = int64_t(rows.size());
  Tensor g = Tensor::empty({1, 1, n, n}, DType::F32);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) g.data<float>()[i * n + j] = rows[size_t(i)][size_t(j)];
  return g;
}

std::vector<int32_t> row(const Tensor& lists, int64_t r) {
  const int64_t n = lists.size(3);
  std::vector<int32_t> out;
  for (int64_t j = 0; j < n; ++j)
    if (const int32_t v = lists.data<int32_t>()[r * n + j]; v >= 0) out.push_back(v);
  return out;
}

// Row 0's gates (self first) 1.0, 0.9, 0.1, 0.5: normalised 1, 0.889, 0, 0.444 (sum 2.333); the
// self share 0.429. τ = 0.25 or 0.8: the best other, 0.889 (0.381 of the sum), reaches r = 0 or
// 0.371; τ = 0.9 (r = 0.471) needs the next, 0.444, too.
TEST(VmobaSelection, ThresholdKeepsTheSelfChunkAndOthersUntilTheShareIsReached) {
  const Tensor g = gates_of({{1.0f, 0.9f, 0.1f, 0.5f},
                             {0.0f, 1.0f, 0.0f, 0.0f},
                             {0.0f, 0.0f, 1.0f, 0.0f},
                             {0.0f, 0.0f, 0.0f, 1.0f}});
  auto select = [&](double tau) {
    return ops::vmoba_select(g,
                             {VmobaSelectMode::Threshold, 1, tau, VmobaThresholdType::QueryHead});
  };
  EXPECT_EQ(row(select(0.25), 0), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(row(select(0.8), 0), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(row(select(0.9), 0), (std::vector<int32_t>{0, 1, 3}));
  // Row 1: self 1, others 0: r = max(0, τ − 1) = 0, so the first other (index order) is kept.
  EXPECT_EQ(row(select(0.25), 1), (std::vector<int32_t>{0, 1}));
}

TEST(VmobaSelection, TopkCountsTheSelfChunkAndBreaksTiesByIndex) {
  const Tensor g = gates_of({{0.2f, 0.9f, 0.5f, 0.9f},
                             {0.0f, 0.0f, 0.0f, 0.0f},
                             {0.0f, 0.0f, 0.0f, 0.0f},
                             {0.0f, 0.0f, 0.0f, 0.0f}});
  auto select = [&](int64_t k) {
    return ops::vmoba_select(g, {VmobaSelectMode::TopK, k, 0, VmobaThresholdType::QueryHead});
  };
  EXPECT_EQ(row(select(2), 0), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(row(select(3), 0), (std::vector<int32_t>{0, 1, 3}));
  // topk 1 keeps no other chunk anywhere: FastVideo's dense fallback, every chunk for everyone.
  EXPECT_EQ(row(select(1), 2), (std::vector<int32_t>{0, 1, 2, 3}));
  // head_global: (topk − 1)·N = 4 of the 12 other entries of the head, the highest.
  const Tensor h =
      ops::vmoba_select(gates_of({{9, 8, 0, 0}, {7, 9, 0, 0}, {0, 0, 9, 6}, {0, 0, 0, 9}}),
                        {VmobaSelectMode::TopK, 2, 0, VmobaThresholdType::HeadGlobal});
  // 8, 7 and 6, then the first 0 in index order: row 0's chunk 2.
  EXPECT_EQ(row(h, 0), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(row(h, 1), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(row(h, 2), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(row(h, 3), (std::vector<int32_t>{3}));
}

// NaN gates (q or k holding NaN) have no order to select by: refused, naming the entry.
TEST(VmobaSelection, NanGatesAreRefused) {
  const Tensor g = gates_of({{0.2f, 0.9f}, {0.1f, NAN}});
  const std::string m = testing::error_of([&] {
    ops::vmoba_select(g, {VmobaSelectMode::TopK, 2, 0, VmobaThresholdType::QueryHead});
  });
  EXPECT_TRUE(testing::contains(m, "entry 3 is NaN")) << m;
}

// [B, H, N, N] gates, one N×N matrix per (batch, head).
Tensor gates_of(const std::vector<std::vector<std::vector<float>>>& per_bh, int64_t B, int64_t H) {
  const int64_t n = int64_t(per_bh.front().size());
  Tensor g = Tensor::empty({B, H, n, n}, DType::F32);
  for (int64_t m = 0; m < B * H; ++m)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        g.data<float>()[(m * n + i) * n + j] = per_bh[size_t(m)][size_t(i)][size_t(j)];
  return g;
}

// The other threshold groups, worked by hand on G = [[5,4,0],[1,5,2],[0,3,5]] (self on the
// diagonal) and a flat F (all 1), G at (batch 0, head 0) and (batch 1, head 1), F at the other
// two, so that batch and head indexing show. Equal n are taken in index order (head 0 first).
//  - block, τ 0.25 (groups: a key chunk over both heads; r = 0, so the best other is kept):
//    column 0 has n 1, .2, 0 (G) and .2, .2, .2 (F): the first .2 in index order, G's row 1 in
//    batch 0 but F's row 1 in batch 1 (F is head 0 there); column 1 (d 4) G's row 0; column 2
//    G's row 1.
//  - head_global, τ 0.8: G's n = G/5 sums to 5, the diagonal 3: r = 0.2; .8 (0,1) reaches .16,
//    .6 (2,1) .28. F has no spread (d <= 1e-6: every n 0), so nothing crosses: all kept.
//  - overall, τ 0.8 (one group per batch item, d 5): n sums to 5 + 9·.2 = 6.8, the diagonals
//    3.6: r = .2706; .8, .6, .4 reach .2647, then the first .2 in index order crosses: G's (1,0)
//    in batch 0, F's (0,1) in batch 1.
TEST(VmobaSelection, BlockOverallAndHeadGlobalGroupsFollowTheRule) {
  const std::vector<std::vector<float>> G = {{5, 4, 0}, {1, 5, 2}, {0, 3, 5}};
  const std::vector<std::vector<float>> F = {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
  const Tensor g = gates_of({G, F, F, G}, 2, 2);
  auto rows = [](const Tensor& lists, int64_t b, int64_t h) {
    std::vector<std::vector<int32_t>> out;
    for (int64_t i = 0; i < 3; ++i) out.push_back(row(lists, (b * 2 + h) * 3 + i));
    return out;
  };
  using Rows = std::vector<std::vector<int32_t>>;
  const Rows every = {{0, 1, 2}, {0, 1, 2}, {0, 1, 2}};
  const Tensor block =
      ops::vmoba_select(g, {VmobaSelectMode::Threshold, 1, 0.25, VmobaThresholdType::Block});
  const Rows alone = {{0}, {1}, {2}};
  EXPECT_EQ(rows(block, 0, 0), (Rows{{0, 1}, {0, 1, 2}, {2}}));
  EXPECT_EQ(rows(block, 0, 1), alone);
  EXPECT_EQ(rows(block, 1, 0), (Rows{{0}, {0, 1}, {2}}));
  EXPECT_EQ(rows(block, 1, 1), (Rows{{0, 1}, {1, 2}, {2}}));
  const Tensor head =
      ops::vmoba_select(g, {VmobaSelectMode::Threshold, 1, 0.8, VmobaThresholdType::HeadGlobal});
  EXPECT_EQ(rows(head, 0, 0), (Rows{{0, 1}, {1}, {1, 2}}));
  EXPECT_EQ(rows(head, 0, 1), every);
  EXPECT_EQ(rows(head, 1, 0), every);
  EXPECT_EQ(rows(head, 1, 1), (Rows{{0, 1}, {1}, {1, 2}}));
  const Tensor overall =
      ops::vmoba_select(g, {VmobaSelectMode::Threshold, 1, 0.8, VmobaThresholdType::Overall});
  EXPECT_EQ(rows(overall, 0, 0), (Rows{{0, 1}, {0, 1, 2}, {1, 2}}));
  EXPECT_EQ(rows(overall, 0, 1), alone);
  EXPECT_EQ(rows(overall, 1, 0), (Rows{{0, 1}, {1}, {2}}));
  EXPECT_EQ(rows(overall, 1, 1), (Rows{{0, 1}, {1, 2}, {1, 2}}));
}

// Gates are chunk means: on a 1×1×4 grid in chunks of 2 tokens, gate(b, h, i, j) =
// mean(q over chunk i) · mean(k over chunk j), per batch item and head.
TEST(VmobaSelection, GatesAreTheChunksMeanQueryTimesMeanKey) {
  const auto tiling = TokenTiling::for_grid({1, 1, 4}, {1, 1, 2}, "test");
  const Tensor q = testing::randn({2, 4, 2, 3}), k = testing::randn({2, 4, 2, 3});
  const Tensor g = ops::vmoba_gates(q, k, *tiling);
  auto at = [](const Tensor& t, int64_t b, int64_t s, int64_t h, int64_t d) {
    return double(t.data<float>()[((b * 4 + s) * 2 + h) * 3 + d]);
  };
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 2; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < 3; ++d)
            dot += (at(q, b, 2 * i, h, d) + at(q, b, 2 * i + 1, h, d)) / 2 *
                   (at(k, b, 2 * j, h, d) + at(k, b, 2 * j + 1, h, d)) / 2;
          EXPECT_NEAR(g.data<float>()[((b * 2 + h) * 2 + i) * 2 + j], dot, 1e-5);
        }
}

// The attention is dense attention of each query over its selected chunks: against
// reference_attention with the explicit mask, on an odd grid, batch 2, 3 heads.
TEST(VmobaAttention, EqualsDenseAttentionWithTheChunkMask) {
  const std::array<int64_t, 3> grid = {3, 5, 7};
  const auto tiling = TokenTiling::for_grid(grid, {1, 3, 4}, "test");
  const int64_t B = 2, S = tiling->tokens, H = 3, D = 16;
  const Tensor q = testing::randn({B, S, H, D}), k = testing::randn({B, S, H, D}),
               v = testing::randn({B, S, H, D});
  for (const VmobaRule rule :
       {VmobaRule{VmobaSelectMode::Threshold, 1, 0.25, VmobaThresholdType::QueryHead},
        VmobaRule{VmobaSelectMode::Threshold, 1, 0.5, VmobaThresholdType::Block},
        VmobaRule{VmobaSelectMode::TopK, 3, 0, VmobaThresholdType::Overall}}) {
    const Tensor lists = ops::vmoba_select(ops::vmoba_gates(q, k, *tiling), rule);
    const Tensor out = ops::video_moba_attention(q, k, v, *tiling, rule, 0.25f);
    const int32_t* first = lists.data<int32_t>();
    EXPECT_TRUE(std::count(first, first + lists.numel(), -1) > 0) << "nothing was left out";
    const int64_t N = tiling->num_tiles;
    auto chunk_of = [&](int64_t token) {
      return tiling->slot_of_token[size_t(token)] / tiling->tile_slots;
    };
    for (int64_t b = 0; b < B; ++b) {
      Tensor bias = Tensor::empty({H, S, S}, DType::F32);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t s = 0; s < S; ++s) {
          const std::vector<int32_t> keep = row(lists, (b * H + h) * N + chunk_of(s));
          for (int64_t r = 0; r < S; ++r)
            bias.data<float>()[(h * S + s) * S + r] =
                std::count(keep.begin(), keep.end(), int32_t(chunk_of(r))) ? 0.f : -INFINITY;
        }
      const Tensor ref = testing::reference_attention(q.slice(0, b, b + 1), k.slice(0, b, b + 1),
                                                      v.slice(0, b, b + 1), 0.25f, bias);
      EXPECT_LE(testing::rel_l2(out.slice(0, b, b + 1).contiguous(), ref), 1e-5);
    }
  }
}

// Tiny generations on the CPU at 176×176×5 (token grid 2×11×11).
GenerationResult generate_vmoba(const std::string& json, const std::string& backend) {
  static int files = 0;
  GeneratorOptions options;
  options.device = "cpu";
  options.attention_backend = backend;
  if (!json.empty()) {
    options.moba_config_path = testing::temp_dir("vmoba-run") / str_cat("v", files++, ".json");
    std::ofstream(options.moba_config_path) << json;
  }
  GenerationRequest r;
  r.prompt = "A red fox runs through fresh snow at dawn.";
  r.seed = 7;
  r.height = 176;
  r.width = 176;
  r.num_frames = 5;
  return VideoGenerator::from_pretrained(testing::tiny_model_dir(), options).generate(r);
}

std::string tiny_config(const std::string& select) {
  return R"({"temporal_chunk_size": 1, "temporal_topk": 2, "spatial_chunk_size": [4, 4],
             "spatial_topk": 3, "st_chunk_size": [1, 4, 4], "st_topk": 3, "first_full_step": 1, )" +
         select + "}";
}

TEST(VmobaAttnBackend, GenerationsRunSparseAfterTheDenseStepsAndRecordTheConfig) {
  const AttentionBackend& vmoba = AttentionBackendRegistry::builtin().get("VMOBA_ATTN", "test");
  EXPECT_TRUE(vmoba.status(AttentionDevice::cpu()).available());
#ifdef FASTVIDEO_HAVE_CUDA
  EXPECT_TRUE(contains(vmoba.status(AttentionDevice::gpu(0, "NVIDIA H200", {9, 0})).reason,
                       "block-sparse kernel"));
#endif
  const GenerationResult dense = generate_vmoba("", "TORCH_SDPA");
  const GenerationResult sparse =
      generate_vmoba(tiny_config(R"("moba_select_mode": "topk")"), "VMOBA_ATTN");
  const GenerationResult threshold =
      generate_vmoba(tiny_config(R"("moba_threshold": 0.25)"), "VMOBA_ATTN");
  // τ = 1 keeps every chunk: dense attention again.
  const GenerationResult all =
      generate_vmoba(tiny_config(R"("moba_threshold": 1.0)"), "VMOBA_ATTN");
  const double all_drift =
      testing::rel_l2(testing::final_latents(all), testing::final_latents(dense));
  const double sparse_drift =
      testing::rel_l2(testing::final_latents(sparse), testing::final_latents(dense));
  std::printf("[vmoba] final latents rel-L2 against TORCH_SDPA: every chunk %.3g, topk %.3g\n",
              all_drift, sparse_drift);
  const double threshold_drift =
      testing::rel_l2(testing::final_latents(threshold), testing::final_latents(dense));
  std::printf("[vmoba] threshold 0.25: %.3g\n", threshold_drift);
  EXPECT_LE(all_drift, 1e-5);
  EXPECT_GE(sparse_drift, std::max(100 * all_drift, 1e-4)) << "topk changed almost nothing";
  EXPECT_GE(threshold_drift, std::max(100 * all_drift, 1e-4)) << "τ 0.25 changed almost nothing";
  bool recorded = false;
  for (const auto& [key, value] : sparse.parameters)
    recorded = recorded || (key == "moba_config_path" && contains(value, ".json"));
  EXPECT_TRUE(recorded) << "moba_config_path is not in the output's parameters";
}

TEST(VmobaAttnBackend, TheConfigAndTheBackendGoTogether) {
  EXPECT_TRUE(
      contains(error_of([] { generate_vmoba("", "VMOBA_ATTN"); }), "VMOBA_ATTN needs its config"));
  EXPECT_TRUE(contains(
      error_of([] { generate_vmoba(tiny_config(R"("moba_threshold": 0.3)"), "TORCH_SDPA"); }),
      "moba_config_path is set"));
  EXPECT_TRUE(
      contains(error_of([] { generate_vmoba(R"({"temporal_chunk_size": 1})", "VMOBA_ATTN"); }),
               "required key"));
}

}  // namespace
}  // namespace fastvideo
