// SLIDING_TILE_ATTN as a backend: FastVideo's mask-strategy JSON (read, refused by key and value,
// written and read back) and tiny generations on the CPU, where the full window is dense attention
// (fastvideo.md §4.1; issue 14: MS-SSIM >= 0.99) and smaller windows change the frames.
#include "attention/sliding_tile_attn_backend.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "attention/attention_registry.h"
#include "cli_runner.h"
#include "fastvideo/sta_search.h"
#include "fastvideo/video_generator.h"
#include "quality/video_metrics.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

namespace fs = std::filesystem;
using testing::error_of;

using testing::contains;

TEST(StaMaskStrategy, ReadsFastVideosKeysAndRefusesMalformedEntriesByName) {
  const StaMaskStrategy s =
      StaMaskStrategy::from_json_text(R"({"0_0_0": [3, 6, 10], "12_29_11": [1, 6, 10]})", "m.json");
  EXPECT_EQ(s.size(), 2u);
  EXPECT_EQ(s.window(12, 29, 11), (StaWindow{1, 6, 10}));
  std::string m = error_of([&] { s.window(1, 0, 0); });
  EXPECT_TRUE(contains(m, "m.json: no window for step 1, layer 0, head 0 (key '1_0_0')")) << m;
  for (const auto& [text, expected] : std::initializer_list<std::pair<const char*, const char*>>{
           {R"({"0_0": [1, 1, 1]})", "key '0_0' is not \"step_layer_head\""},
           {R"({"a_0_0": [1, 1, 1]})", "key 'a_0_0' is not"},
           {R"({"0_0_0_": [1, 1, 1]})", "key '0_0_0_' is not"},
           {R"({"0_0_0": [1, 1]})", "'0_0_0' = [1,1] is not a window [t, h, w]"},
           {R"({"0_0_0": [0, 1, 1]})", "window sizes are whole numbers of tiles, at least 1"},
           {R"({"0_0_0": [1.5, 1, 1]})", "window sizes are whole numbers"},
           {R"({"0_0_0": [1, 1, 1], "00_0_0": [1, 1, 1]})", "names the same step, layer and head"},
           {R"([1, 2, 3])", "is a JSON object"},
           {R"({})", "has no entries"},
           {R"({"0_0_0": )", "not valid JSON"}}) {
    m = error_of([&] { StaMaskStrategy::from_json_text(text, "m.json"); });
    EXPECT_TRUE(contains(m, "m.json")) << m;
    EXPECT_TRUE(contains(m, expected)) << text << " -> " << m;
  }
  m = error_of([] { StaMaskStrategy::from_file("/nonexistent/mask.json"); });
  EXPECT_TRUE(contains(m, "/nonexistent/mask.json: does not exist") &&
              contains(m, "the STA mask strategy"))
      << m;
}

TEST(StaMaskStrategy, WrittenFilesReadBackTheSame) {
  StaMaskStrategy s = StaMaskStrategy::from_json_text(R"({"0_0_0": [1, 2, 3]})", "x");
  s.set(3, 1, 0, {2, 2, 2});
  const fs::path path = testing::temp_dir("sta-strategy") / "mask.json";
  s.write(path);
  EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
  const StaMaskStrategy back = StaMaskStrategy::from_file(path);
  EXPECT_EQ(back.size(), 2u);
  EXPECT_EQ(back.window(0, 0, 0), (StaWindow{1, 2, 3}));
  EXPECT_EQ(back.window(3, 1, 0), (StaWindow{2, 2, 2}));
}

TEST(SlidingTileAttnBackend, RunsOnTheCpuAndOnSm80GpusWhenAskedFor) {
  const AttentionBackend& sta =
      AttentionBackendRegistry::builtin().get("SLIDING_TILE_ATTN", "test");
  EXPECT_TRUE(sta.status(AttentionDevice::cpu()).available());
  EXPECT_FALSE(sta.chosen_automatically_on(AttentionDevice::cpu()));
  const AttentionBackendStatus t4 = sta.status(AttentionDevice::gpu(0, "Tesla T4", {7, 5}));
  EXPECT_FALSE(t4.available()) << t4.reason;
#ifdef FASTVIDEO_HAVE_CUDA
  // Without the CUDA backend the refusal names the build instead.
  EXPECT_EQ(t4.kind, AttentionBackendStatus::Kind::UnsupportedHardware) << t4.reason;
  const AttentionBackendStatus h200 = sta.status(AttentionDevice::gpu(0, "NVIDIA H200", {9, 0}));
  EXPECT_TRUE(h200.available() && contains(h200.reason, "block-sparse kernel")) << h200.reason;
  EXPECT_FALSE(sta.chosen_automatically_on(AttentionDevice::gpu(0, "NVIDIA H200", {9, 0})));
#endif
}

// A tiny generation at 176×176, 5 frames (token grid 2×11×11: 1×2×2 tiles) with SLIDING_TILE_ATTN
// and the mask strategy `json` (written to a new file FASTVIDEO_ATTENTION_CONFIG names; empty:
// none).
// With `resolve_only`, VideoGenerator::resolve() instead, which checks the request as generate()
// does before any work (an empty result).
GenerationResult generate_sta(const std::string& json,
                              const std::string& backend = "SLIDING_TILE_ATTN",
                              bool resolve_only = false) {
  static int files = 0;
  ::unsetenv(kAttentionConfigEnv);
  if (!json.empty()) {
    const fs::path path = testing::temp_dir("sta-run") / str_cat("mask", files++, ".json");
    std::ofstream(path) << json;
    ::setenv(kAttentionConfigEnv, path.c_str(), 1);
  }
  GeneratorOptions options;
  options.device = "cpu";
  options.attention_backend = backend;
  GenerationRequest r;
  r.prompt = "A red fox runs through fresh snow at dawn.";
  r.seed = 7;
  r.height = 176;
  r.width = 176;
  r.num_frames = 5;
  VideoGenerator generator = VideoGenerator::from_pretrained(testing::tiny_model_dir(), options);
  GenerationResult result;
  if (resolve_only) {
    generator.resolve(r);
  } else {
    result = generator.generate(r);
  }
  ::unsetenv(kAttentionConfigEnv);
  return result;
}

// Every (step, layer, head) of the tiny model's 4 steps, 2 layers and 2 heads with `window`.
std::string uniform_strategy(const std::string& window) {
  std::string json = "{";
  for (int s = 0; s < 4; ++s)
    for (int l = 0; l < 2; ++l)
      for (int h = 0; h < 2; ++h)
        json += (json.size() > 1 ? ", " : "") + str_cat("\"", s, "_", l, "_", h, "\": ", window);
  return json + "}";
}

// The worst frame's MS-SSIM of two results (quality/video_metrics.h).
double worst_ms_ssim(const GenerationResult& a, const GenerationResult& b) {
  auto video = [](const GenerationResult& g) {
    return Video{
        .frames = g.frames, .height = g.height, .width = g.width, .fps = g.fps, .rgb = g.rgb};
  };
  return compare_videos(video(a), video(b)).worst_ms_ssim.value;
}

TEST(SlidingTileAttnBackend, TheFullWindowGivesDenseFramesAndSmallerWindowsDoNot) {
  const GenerationResult dense = generate_sta("", "TORCH_SDPA");
  const GenerationResult full = generate_sta(uniform_strategy("[1, 2, 2]"));
  bool recorded = false;
  for (const auto& [key, value] : full.parameters)
    recorded = recorded || (key == "STA_mask_strategy" && contains(value, "mask"));
  EXPECT_TRUE(recorded) << "the mask strategy is not in the output's parameters";
  const double full_score = worst_ms_ssim(dense, full);
  std::printf("[sta] full window vs TORCH_SDPA: worst frame MS-SSIM %.6f\n", full_score);
  EXPECT_GE(full_score, 0.99);
  const GenerationResult one = generate_sta(uniform_strategy("[1, 1, 1]"));
  EXPECT_FALSE(one.rgb == dense.rgb) << "a one-tile window changed nothing";
  // The tiny model's random weights move its frames little; the latents show the windows apart.
  const double full_drift =
      testing::rel_l2(testing::final_latents(full), testing::final_latents(dense));
  const double one_drift =
      testing::rel_l2(testing::final_latents(one), testing::final_latents(dense));
  std::printf("[sta] final latents rel-L2 against TORCH_SDPA: full window %.3g, one tile %.3g\n",
              full_drift, one_drift);
  EXPECT_LE(full_drift, 1e-5);
  EXPECT_GE(one_drift, 100 * full_drift) << "a one-tile window changed almost nothing";
  EXPECT_TRUE(one.rgb == generate_sta(uniform_strategy("[1, 1, 1]")).rgb) << "not deterministic";
}

TEST(SlidingTileAttnBackend, WithoutAStrategyEveryHeadGetsTheDefaultWindowCutToTheGrid) {
  ::unsetenv(kAttentionConfigEnv);
  const AttentionBackend& sta =
      AttentionBackendRegistry::builtin().get("SLIDING_TILE_ATTN", "test");
  const auto wide = sta.build_metadata({.step = 2, .grid = {21, 30, 52}});
  const auto* md = dynamic_cast<const StaMetadata*>(wide.get());
  ASSERT_NE(md, nullptr);
  EXPECT_EQ(md->strategy, nullptr);
  EXPECT_EQ(md->step, 2);
  EXPECT_EQ(md->default_window, kStaDefaultWindow);
  const auto narrow = sta.build_metadata({.grid = {2, 11, 11}});
  EXPECT_EQ(dynamic_cast<const StaMetadata*>(narrow.get())->default_window, (StaWindow{1, 2, 2}));
}

// Refused before any work, by resolve() as by generate() (review: resolve() passed both).
TEST(SlidingTileAttnBackend, AMissingEntryOrAWindowOffTheGridNamesStepLayerAndHead) {
  for (const bool resolve_only : {false, true}) {
    std::string m = error_of(
        [&] { generate_sta(R"({"0_0_0": [1, 1, 1]})", "SLIDING_TILE_ATTN", resolve_only); });
    EXPECT_TRUE(contains(m, "no window for step 0, layer 0, head 1 (key '0_0_1')")) << m;
    m = error_of(
        [&] { generate_sta(uniform_strategy("[1, 3, 2]"), "SLIDING_TILE_ATTN", resolve_only); });
    EXPECT_TRUE(contains(m,
                         "step 0, layer 0, head 0: window [1, 3, 2] has 3 tiles along h, outside "
                         "1 .. 2"))
        << m;
  }
  EXPECT_NO_THROW(generate_sta(uniform_strategy("[1, 2, 2]"), "SLIDING_TILE_ATTN", true));
}

// FastVideo's select_best_mask_strategy on hand-made losses: the prompts' mean, the least-loss
// candidate (the first on ties), the full window for the first skip_steps steps.
TEST(StaMaskSearch, ChoosesTheLeastMeanLossAfterTheSkippedSteps) {
  StaSearchLosses a;
  a.candidates = {{1, 1, 1}, {1, 2, 1}};
  a.full_window = {2, 2, 2};
  a.steps = 2;
  a.layers = 1;
  a.heads = 2;
  // [step][layer][head][candidate]
  a.l2 = {0.1, 0.2, 0.3, 0.4, /* step 1: */ 0.5, 0.1, 0.2, 0.2};
  StaSearchLosses b = a;
  b.l2 = {0.1, 0.2, 0.3, 0.4, /* step 1: */ 0.5, 0.3, 0.2, 0.2};
  const fs::path path = testing::temp_dir("sta-select") / "mask.json";
  const StaSearchSummary summary = write_sta_mask_strategy({a, b}, 1, path);
  const StaMaskStrategy s = StaMaskStrategy::from_file(path);
  EXPECT_EQ(s.window(0, 0, 0), (StaWindow{2, 2, 2}));  // skipped: full
  EXPECT_EQ(s.window(0, 0, 1), (StaWindow{2, 2, 2}));
  EXPECT_EQ(s.window(1, 0, 0), (StaWindow{1, 2, 1}));  // means 0.5 and 0.2
  EXPECT_EQ(s.window(1, 0, 1), (StaWindow{1, 1, 1}));  // a tie: the first
  EXPECT_DOUBLE_EQ(summary.sparsity, 1.0 - (8 + 8 + 2 + 1) / 32.0);
  EXPECT_EQ(summary.window_counts.at("[2, 2, 2]"), 2);
  StaSearchLosses other = b;
  other.steps = 3;
  const std::string m = error_of([&] { write_sta_mask_strategy({a, other}, 1, path); });
  EXPECT_TRUE(contains(m, "the runs differ")) << m;
  // Losses that do not fill the table, and windows of no tiles, are refused (API audit: a short
  // table was read past its end, a 0x0x0 window gave a NaN sparsity).
  StaSearchLosses short_table = a;
  short_table.l2.pop_back();
  EXPECT_TRUE(contains(error_of([&] { write_sta_mask_strategy({short_table}, 1, path); }),
                       "a run holds 7 losses for 2 steps x 1 layers x 2 heads x 2 candidates"));
  StaSearchLosses empty_window = a;
  empty_window.full_window = {0, 0, 0};
  EXPECT_TRUE(contains(error_of([&] { write_sta_mask_strategy({empty_window}, 1, path); }),
                       "the full window 0x0x0 is not a positive number of tiles"));
  // A folder where the strategy goes: an Error naming it, and no temporary file left.
  const fs::path folder = testing::temp_dir("sta-select") / "folder.json";
  fs::create_directories(folder);
  EXPECT_TRUE(contains(error_of([&] { write_sta_mask_strategy({a}, 1, folder); }),
                       folder.string() + ": cannot rename"));
  EXPECT_FALSE(fs::exists(folder.string() + ".tmp"));
}

TEST(StaMaskSearch, CandidatesWithAnotherBackendAreRefused) {
  GeneratorOptions options;
  options.device = "cpu";
  options.attention_backend = "TORCH_SDPA";
  options.sta_search_candidates = {{1, 1, 1}};
  const std::string m =
      error_of([&] { VideoGenerator::from_pretrained(testing::tiny_model_dir(), options); });
  EXPECT_TRUE(contains(m,
                       "sta_search_candidates are set, but the self-attention backend is "
                       "TORCH_SDPA"))
      << m;
}

// `fastvideo sta-search` on the tiny model writes a strategy that `fastvideo generate` then runs
// with (issue 14).
TEST(StaMaskSearch, TheSearchCommandWritesAStrategyGenerateLoads) {
  const fs::path dir = testing::temp_dir("sta-search-cli");
  const std::string mask = (dir / "mask.json").string();
  const std::string sizes = " --height 176 --width 176 --num-frames 5 --num-inference-steps 2";
  const testing::CliRun search = testing::run(
      "sta-search --device cpu --prompt 'a red fox' --candidates '1,1,1 1,2,1' "
      "--skip-time-steps 1 --output " +
      mask + sizes);
  ASSERT_EQ(search.status, 0) << search.output;
  EXPECT_TRUE(contains(search.output, "2 steps x 2 layers x 2 heads, full window [1, 2, 2]"))
      << search.output;
  EXPECT_EQ(StaMaskStrategy::from_file(mask).size(), 8u);
  const testing::CliRun generate = testing::run(
      "generate --device cpu --attention-backend SLIDING_TILE_ATTN --prompt 'a red fox' --output " +
          (dir / "fox.y4m").string() + sizes,
      "FASTVIDEO_ATTENTION_CONFIG=" + mask);
  EXPECT_EQ(generate.status, 0) << generate.output;
  EXPECT_TRUE(fs::exists(dir / "fox.y4m"));
  const testing::CliRun bad = testing::run(
      "sta-search --device cpu --prompt x --candidates "
      "'1,1' --output " +
      mask + sizes);
  EXPECT_NE(bad.status, 0);
  EXPECT_TRUE(contains(bad.output, "--candidates: '1,1' is not a window t,h,w")) << bad.output;
  // What would fail only after the search fails before it (QA audit): an existing output without
  // --overwrite (it was replaced without a word), a folder, a missing folder, a negative skip.
  const std::string search_args = "sta-search --device cpu --prompt x" + sizes;
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {" --output " + mask, "exists; pass --overwrite to replace it"},
           {" --output " + dir.string(), "is a folder"},
           {" --output " + (dir / "nodir" / "m.json").string(),
            "does not exist or is not writable"},
           {" --overwrite --skip-time-steps -1 --output " + mask,
            "--skip-time-steps -1 is negative"},
           {" --overwrite --skip-time-steps 3 --output " + mask,
            "--skip-time-steps 3 is more than the 2 denoising steps"}}) {
    const testing::CliRun r = testing::run(search_args + args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_TRUE(contains(r.output, message)) << args << "\n" << r.output;
    EXPECT_FALSE(contains(r.output, "searched:")) << "the search ran first: " << args;
  }
  EXPECT_EQ(StaMaskStrategy::from_file(mask).size(), 8u) << "the strategy was replaced";
}

// FastVideo's default candidates are 720p windows; on a smaller grid they are cut to it, and those
// that become the full window are dropped (QA audit: the defaults failed at the 480p preset).
TEST(StaMaskSearch, CandidatesAreCutToTheGridAndFullWindowsDropped) {
  const fs::path dir = testing::temp_dir("sta-search-defaults");
  const std::string mask = (dir / "mask.json").string();
  // A grid of 2x11x11 latent patches: 1x2x2 tiles.
  const std::string sizes = " --height 176 --width 176 --num-frames 5 --num-inference-steps 2";
  const testing::CliRun search = testing::run(
      "sta-search --device cpu --prompt 'a red fox' --skip-time-steps 1 --output " + mask + sizes);
  ASSERT_EQ(search.status, 0) << search.output;
  EXPECT_TRUE(contains(search.output,
                       "candidate [3, 6, 1] cut to [1, 2, 1] (the grid has [1, 2, 2] tiles)"))
      << search.output;
  EXPECT_TRUE(
      contains(search.output, "candidate [1, 6, 10] covers the whole grid of [1, 2, 2] tiles"))
      << search.output;
  // After the skipped step, every head of both layers takes the one candidate left.
  EXPECT_TRUE(contains(search.output, "overall sparsity 0.2500")) << search.output;
  EXPECT_EQ(StaMaskStrategy::from_file(mask).size(), 8u);
  const testing::CliRun none = testing::run(
      "sta-search --device cpu --prompt x --candidates '3,3,3 1,2,2' --overwrite --output " + mask +
      sizes);
  EXPECT_NE(none.status, 0);
  EXPECT_TRUE(contains(none.output,
                       "no candidate window is smaller than the grid of [1, 2, 2] tiles of "
                       "6x8x8; give smaller --candidates, or search a larger video"))
      << none.output;
}

}  // namespace
}  // namespace fastvideo
