// The memory plan (pipeline/memory_plan.h): which offloads a run gets for a device budget, on the
// 1.3B model's real sizes at its 480p preset, and the activation estimates against the H200
// measurements they were calibrated on (docs/perf.md).
#include "pipeline/memory_plan.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace fastvideo {
using testing::contains;
using testing::error_of;

namespace {

constexpr int64_t GiB = int64_t(1) << 30;

// Wan2.1-T2V-1.3B in bf16 (UMT5-XXL 24 layers with its 256k-row embedding), 480x832x81.
MemoryNeeds wan_1_3b_480p() {
  MemoryNeeds n;
  n.dit_blocks = 30;
  n.dit_block = 88 << 20;
  n.dit_weights = 30 * n.dit_block + (200 << 20);
  n.text_encoder_layer = 386 << 20;
  n.text_encoder_resident = 16 << 10;
  n.text_encoder_weights = 24 * n.text_encoder_layer + int64_t(2004) * (1 << 20);
  n.vae_weights = 242 << 20;
  n.encode_activations = estimate_encode_activations(4096, 10240, 64, 512);
  n.denoise_activations = estimate_denoise_activations(32760, 1536, 8960, 30, 512);
  n.decode_activations = estimate_decode_activations(81, 480, 832);
  n.decode_activations_tiled = estimate_tiled_decode_activations(81, 480, 832, 256);
  return n;
}

TEST(MemoryPlan, EstimatesMatchTheMeasurementsTheyCameFrom) {
  // docs/perf.md (H200): UMT5-XXL peaked ~0.71 GiB above its weights, the 1.3B forward at 480p
  // ~2.0 GiB, the pipeline's decode to 81x480x832 ~5.9 GiB.
  EXPECT_NEAR(double(estimate_encode_activations(4096, 10240, 64, 512)) / GiB, 0.7, 0.1);
  EXPECT_NEAR(double(estimate_denoise_activations(32760, 1536, 8960, 30, 512)) / GiB, 2.1, 0.2);
  EXPECT_NEAR(double(estimate_decode_activations(81, 480, 832)) / GiB, 5.9, 0.2);
  EXPECT_LT(estimate_tiled_decode_activations(81, 480, 832, 256),
            estimate_decode_activations(81, 480, 832) / 3);
  // Split over two GPUs each holds half the rows' working set and the whole video.
  const int64_t one = estimate_decode_activations(81, 480, 832),
                two = estimate_decode_activations(81, 480, 832, 2);
  EXPECT_LT(two, one);
  EXPECT_GT(two, one / 2);
}

// use_fsdp_inference: the top level whole, 1/shards of the blocks (rounded up), two blocks
// gathered.
TEST(MemoryPlan, ShardedWeightsKeepThisGpusPieceAndTwoGatheredBlocks) {
  MemoryNeeds n;
  n.dit_blocks = 40;
  n.dit_block = 700 << 20;  // 14B: about 700 MiB a block in bf16
  n.dit_weights = 40 * n.dit_block + (300 << 20);
  EXPECT_EQ(sharded_dit_weights(n, 1), n.dit_weights + 2 * n.dit_block);
  EXPECT_EQ(sharded_dit_weights(n, 8), (300 << 20) + 5 * n.dit_block + 2 * n.dit_block);
  n.dit_block = 7;  // 280 bytes of blocks over 3 shards: 94 each, rounded up
  n.dit_weights = 40 * 7 + 5;
  EXPECT_EQ(sharded_dit_weights(n, 3), 5 + 94 + 14);
  EXPECT_NE(error_of([&] { sharded_dit_weights(n, 0); }).find("0 shards"), std::string::npos);
}

TEST(MemoryPlan, OffloadsOnlyWhatDoesNotFitCheapestFirst) {
  const MemoryNeeds n = wan_1_3b_480p();
  const MemoryPlan roomy = plan_memory(n, {}, 80 * GiB);
  EXPECT_TRUE(roomy.fits);
  EXPECT_FALSE(roomy.choice.text_encoder || roomy.choice.dit_layerwise || roomy.choice.vae_tiling ||
               roomy.choice.text_encoder_released);
  EXPECT_TRUE(contains(roomy.summary, "nothing offloaded")) << roomy.summary;

  // 16 GiB: everything fits, but not with the text encoder kept through decoding (~20 GiB).
  const MemoryPlan sixteen = plan_memory(n, {}, 16 * GiB);
  EXPECT_TRUE(sixteen.fits && sixteen.choice.text_encoder_released);
  EXPECT_FALSE(sixteen.choice.text_encoder || sixteen.choice.dit_layerwise ||
               sixteen.choice.vae_tiling);
  EXPECT_TRUE(contains(sixteen.summary, "the text encoder released after encoding (auto)"))
      << sixteen.summary;

  // 10 GiB: the text encoder (~11 GiB) must stream, nothing else.
  const MemoryPlan ten = plan_memory(n, {}, 10 * GiB);
  EXPECT_TRUE(ten.fits && ten.choice.text_encoder);
  EXPECT_FALSE(ten.choice.dit_layerwise || ten.choice.vae_tiling);
  EXPECT_TRUE(contains(ten.summary, "text_encoder_cpu_offload (auto)")) << ten.summary;

  // 8 GiB (the small card): decoding 480p whole (~5.9 GiB) no longer fits beside the
  // transformer: VAE tiling too, the blocks still resident.
  const MemoryPlan eight = plan_memory(n, {}, 8 * GiB);
  EXPECT_TRUE(eight.fits && eight.choice.text_encoder && eight.choice.vae_tiling);
  EXPECT_FALSE(eight.choice.dit_layerwise);
  EXPECT_LE(eight.peak, 8 * GiB);

  // Tighter: the transformer's blocks last.
  const MemoryPlan four = plan_memory(n, {}, 4 * GiB);
  EXPECT_TRUE(four.fits && four.choice.dit_layerwise) << four.summary;
  EXPECT_LE(four.peak, 4 * GiB);
}

// Compile mode (or FP8 linears) keeps one GPU's blocks resident; where only layerwise offload
// would fit, the setting is named (refused under a budget, else a warning: audit, the warning
// named no setting).
TEST(MemoryPlan, ASettingThatKeepsTheBlocksResidentIsNamedWhereOffloadWouldFit) {
  const MemoryNeeds n = wan_1_3b_480p();
  OffloadSettings resident;
  resident.dit_layerwise = false;
  const std::string why = "compile mode (enable_torch_compile)";
  const auto problem = [&](int64_t available, const std::string& because) {
    return resident_blocks_problem(n, resident, plan_memory(n, resident, available), available,
                                   because);
  };
  const std::string m = problem(4 * GiB, why);
  EXPECT_TRUE(contains(m,
                       "compile mode (enable_torch_compile) keeps the transformer's blocks on "
                       "the device, and then this run needs about") &&
              contains(m,
                       "of the 4.00 GiB available (a 5 % margin included); layerwise offload "
                       "would fit it in"))
      << m;
  EXPECT_EQ(problem(80 * GiB, why), "") << "it fits";
  EXPECT_EQ(problem(4 * GiB, ""), "") << "nothing keeps them";
  EXPECT_EQ(problem(1 << 20, why), "") << "nothing would fit";
}

TEST(MemoryPlan, SettingsAreKeptAndTooSmallABudgetNamesTheLeastThatWorks) {
  const MemoryNeeds n = wan_1_3b_480p();
  // Fixed switches hold even when they are not needed, or when the plan cannot fit without them.
  const MemoryPlan asked = plan_memory(n, {.dit_layerwise = true}, 80 * GiB);
  EXPECT_TRUE(asked.choice.dit_layerwise);
  EXPECT_TRUE(contains(asked.summary, "dit_layerwise_offload (asked for)")) << asked.summary;
  const MemoryPlan refused = plan_memory(n, {.text_encoder = false}, 8 * GiB);
  EXPECT_FALSE(refused.fits);
  EXPECT_FALSE(refused.choice.text_encoder);
  EXPECT_GT(refused.smallest, 8 * GiB);
  // A kept encoder stays resident through decoding; a released or streamed one does not.
  EXPECT_EQ(peak_device_bytes(n, {}),
            n.dit_weights + n.vae_weights + n.text_encoder_weights + n.decode_activations);
  EXPECT_EQ(peak_device_bytes(n, {.text_encoder_released = true}),  // encoding is the peak then
            n.dit_weights + n.vae_weights + n.text_encoder_weights + n.encode_activations);
  // keep_text_encoder: true holds (beside a resident encoder); false is kept too, and says so.
  const MemoryPlan kept =
      plan_memory(n, {.text_encoder = false, .text_encoder_released = false}, 16 * GiB);
  EXPECT_TRUE(kept.fits && !kept.choice.text_encoder_released && kept.choice.vae_tiling)
      << kept.summary;  // the kept encoder beside decoding needs the tiles
  const MemoryPlan released = plan_memory(n, {.text_encoder_released = true}, 80 * GiB);
  EXPECT_TRUE(released.choice.text_encoder_released);
  EXPECT_TRUE(contains(released.summary, "the text encoder released after encoding (asked for)"))
      << released.summary;
  // Nothing fits 1 GiB; the plan reports the least any allowed choice needs, which is everything
  // offloaded.
  const MemoryPlan tiny = plan_memory(n, {}, GiB);
  EXPECT_FALSE(tiny.fits);
  EXPECT_EQ(tiny.smallest, peak_device_bytes(n, {true, true, true, true}));
  EXPECT_TRUE(tiny.choice.dit_layerwise && tiny.choice.text_encoder && tiny.choice.vae_tiling);
}

}  // namespace
// CFG's batched passes hold two videos and the joined K/V: the limit drops to half the preset's
// tokens, then to no batching, as the memory beside the rest shrinks to what one preset pass needs.
TEST(MemoryPlan, CfgBatchingIsLimitedToWhatFitsBesideThePlan) {
  MemoryNeeds n;
  n.dit_weights = GiB;
  const int64_t preset = 32760, wanted = 20000;
  auto denoise = [](int64_t tokens) {
    return estimate_denoise_activations(tokens, 1536, 8960, 30, 512);
  };
  const int64_t joined_kv = denoise(0);
  n.denoise_activations = denoise(preset);
  auto limit = [&](int64_t activations) {
    return cfg_batch_limit(n, {}, budget_for(n.dit_weights + activations, 0), wanted, preset, 1536,
                           8960, 30, 512);
  };
  EXPECT_EQ(limit(denoise(2 * wanted) + joined_kv), wanted);
  EXPECT_EQ(limit(denoise(2 * wanted) + joined_kv - 1), preset / 2);
  EXPECT_EQ(limit(denoise(preset) + joined_kv), preset / 2);
  EXPECT_EQ(limit(denoise(preset)), 0);  // the plan fits; a batch of any size would not
  // A preset larger than two batched videos (the 14B's 75,600 tokens): batching never adds.
  n.denoise_activations = denoise(75600);
  EXPECT_EQ(cfg_batch_limit(n, {}, budget_for(n.dit_weights + n.denoise_activations, 0), wanted,
                            75600, 1536, 8960, 30, 512),
            wanted);
}

}  // namespace fastvideo
