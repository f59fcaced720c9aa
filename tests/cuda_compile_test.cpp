// Compile mode (the transformer forward captured into a CUDA graph and replayed, issue 11) against
// eager on the tiny model (and the text encoder's and the VAE's graphs against theirs): every
// replay gives the eager forward's bytes, for each self-attention backend this GPU runs, while the
// latents, the timestep and the prompt change between replays; a new shape captures a graph of its
// own; a tiny generation with enable_torch_compile matches the eager one and reports its one-time
// cost apart.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "attention/attention_device.h"
#include "attention/attention_registry.h"
#include "core/cuda/device_allocator.h"
#include "fastvideo/video_generator.h"
#include "io/checkpoint.h"
#include "models/umt5/umt5_encoder.h"
#include "models/wan/dit/cuda/wan_forward_graphs.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "ops/elementwise.h"
#include "quality/video_metrics.h"
#include "random_vae_weights.h"
#include "require_gpu.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);

bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(Device::cpu()).contiguous(), y = b.to(Device::cpu()).contiguous();
  return x.dtype() == y.dtype() && x.shape() == y.shape() &&
         std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

Weights tiny_transformer_weights(const WanTransformerConfig& config) {
  const CheckpointFolder c = CheckpointFolder::open(testing::tiny_model_dir());
  const std::set<std::string> keep = wan_transformer_fp32_names(config);
  return load_component(c.path("transformer"), wan_transformer_specs(config), DType::BF16, kGpu,
                        &keep);
}

TEST(CudaCompileMode, ReplaysGiveTheEagerForwardForEveryBackendThisGpuRuns) {
  REQUIRE_GPU();
  const CheckpointFolder c = CheckpointFolder::open(testing::tiny_model_dir());
  const auto config = WanTransformerConfig::from_json(c.config("transformer"));
  const Weights weights = tiny_transformer_weights(config);
  const AttentionDevice here = attention_device_for(kGpu);
  int backends_run = 0;
  for (const char* name : {"TORCH_SDPA", "FLASH_ATTN", "SAGE_ATTN", "VIDEO_SPARSE_ATTN", "SLA_ATTN",
                           "SAGE_SLA_ATTN"}) {
    const AttentionBackend& backend = AttentionBackendRegistry::builtin().get(name, "test");
    if (!backend.status(here).available()) continue;  // e.g. the Hopper-only ones elsewhere
    ++backends_run;
    WanTransformer eager(config, weights, backend);
    WanTransformer compiled(config, weights, backend);
    compiled.enable_compile();
    const WanTransformer::TextContext prompts[2] = {
        compiled.prepare_text(testing::randn({1, 512, config.text_dim}, 0.3f).to(kGpu)),
        compiled.prepare_text(testing::randn({1, 512, config.text_dim}, 0.3f).to(kGpu))};
    // Grid 5x16x16 (1280 tokens): several VSA tiles and SLA blocks, so sparsity selects.
    for (int round = 0; round < 4; ++round) {
      const Tensor latents = testing::randn({1, 16, 5, 32, 32}).to(kGpu);
      const double t[] = {999.0 - 250.0 * round};
      const auto metadata = backend.build_metadata({.step = round,
                                                    .timestep = t[0],
                                                    .grid = {5, 16, 16},
                                                    .sparsity = 0.5,
                                                    .topk_ratio = 0.25});
      const auto& text = prompts[round % 2];  // cond, uncond, cond, ...: the context changes
      const Tensor out = compiled.forward(latents, t, text, metadata.get());
      const Tensor ref = eager.forward(latents, t, text, metadata.get());
      EXPECT_TRUE(same_bytes(out, ref)) << name << ", round " << round;
      EXPECT_TRUE(ops::all_finite(out)) << name << ", round " << round;
    }
    WanTransformer::CompileStats stats = compiled.compile_stats();
    EXPECT_EQ(stats.graphs, 1) << name;
    EXPECT_EQ(stats.replays, 3) << name;
    EXPECT_GT(stats.graph_memory_bytes, 0) << name;

    // Another shape: a graph of its own, and the first one still replays correctly after it.
    const auto md = backend.build_metadata(
        {.step = 0, .timestep = 500, .grid = {3, 16, 16}, .sparsity = 0.5, .topk_ratio = 0.25});
    const double t[] = {500.0};
    for (int round = 0; round < 2; ++round) {
      const Tensor latents = testing::randn({1, 16, 3, 32, 32}).to(kGpu);
      EXPECT_TRUE(same_bytes(compiled.forward(latents, t, prompts[0], md.get()),
                             eager.forward(latents, t, prompts[0], md.get())))
          << name << ", second shape, round " << round;
    }
    stats = compiled.compile_stats();
    EXPECT_EQ(stats.graphs, 2) << name;
    EXPECT_EQ(stats.replays, 4) << name;
  }
  EXPECT_GE(backends_run, 2) << "TORCH_SDPA and FLASH_ATTN run on every sm_80+ GPU";
}

TEST(CudaCompileMode, OnlyTheMostRecentlyUsedGraphsAreKept) {
  REQUIRE_GPU();
  const CheckpointFolder c = CheckpointFolder::open(testing::tiny_model_dir());
  const auto config = WanTransformerConfig::from_json(c.config("transformer"));
  WanTransformer compiled(config, tiny_transformer_weights(config),
                          AttentionBackendRegistry::builtin().get("TORCH_SDPA", "test"));
  compiled.enable_compile();
  const WanTransformer::TextContext text =
      compiled.prepare_text(testing::randn({1, 512, config.text_dim}, 0.3f).to(kGpu));
  const double t[] = {500.0};
  // Latent shapes of one token count (64), so that their graphs hold about the same memory.
  const int64_t sizes[][2] = {{16, 16}, {8, 32}, {32, 8}, {4, 64}, {64, 4}};
  const auto forward_shape = [&](int i) {
    compiled.forward(testing::randn({1, 16, 1, sizes[i][0], sizes[i][1]}).to(kGpu), t, text);
  };
  // One graph per latent shape; one shape more than are kept evicts the least recently used.
  const int kept = int(WanForwardGraphs::kMaxGraphs);
  ASSERT_LT(kept, 5);
  for (int i = 0; i < kept; ++i) forward_shape(i);
  const int64_t kept_bytes = compiled.compile_stats().graph_memory_bytes;
  forward_shape(0);     // a replay: shape 0 is now the most recently used
  forward_shape(kept);  // evicts shape 1
  WanTransformer::CompileStats stats = compiled.compile_stats();
  EXPECT_EQ(stats.graphs, kept + 1);
  EXPECT_EQ(stats.replays, 1);
  EXPECT_LT(stats.graph_memory_bytes, kept_bytes + kept_bytes / (2 * kept))
      << "an evicted graph's memory is still counted";
  forward_shape(0);  // still kept: replayed
  forward_shape(1);  // evicted: captured again
  stats = compiled.compile_stats();
  EXPECT_EQ(stats.replays, 2);
  EXPECT_EQ(stats.graphs, kept + 2);
}

TEST(CudaCompileMode, GenerationMatchesEagerAndReportsItsOneTimeCost) {
  REQUIRE_GPU();
  ::unsetenv("FASTVIDEO_CFG_GATE_STEP");
  ::unsetenv("FASTVIDEO_ATTENTION_BACKEND");
  GenerationRequest request;
  request.prompt = "A red fox runs through fresh snow at dawn.";
  request.seed = 7;
  request.height = 176;  // MS-SSIM needs frames over 160 px on the short side
  request.width = 176;
  GeneratorOptions options;
  options.device = "cuda";
  const GenerationResult eager =
      VideoGenerator::from_pretrained(testing::tiny_model_dir(), options).generate(request);
  options.enable_torch_compile = true;
  options.torch_compile_kwargs.mode = "reduce-overhead";
  options.compile_text_encoder = true;  // the second generation's prompts replay UMT5's graphs
  VideoGenerator generator = VideoGenerator::from_pretrained(testing::tiny_model_dir(), options);
  const GenerationResult first = generator.generate(request);
  const GenerationResult second = generator.generate(request);

  for (const GenerationResult* r : {&first, &second}) {
    const VideoComparison cmp =
        compare_videos({r->frames, r->height, r->width, r->fps, r->rgb},
                       {eager.frames, eager.height, eager.width, eager.fps, eager.rgb});
    ASSERT_TRUE(cmp.ms_ssim_skipped.empty()) << cmp.ms_ssim_skipped;
    std::printf("compile vs eager, tiny 176x176: MS-SSIM %.6f, latents rel-L2 %.3g\n",
                cmp.mean_ms_ssim,
                testing::rel_l2(testing::final_latents(*r), testing::final_latents(eager)));
    EXPECT_GE(cmp.mean_ms_ssim, 0.99);
    EXPECT_EQ(r->transformer_forwards, eager.transformer_forwards);
  }
  // One shape, so one graph: captured in the first generation (its one-time cost), replayed by
  // every forward after that one, and by all of the second generation's. At this size each step's
  // two CFG passes are one forward of batch 2 (kCfgBatchTokens), so a step is one replay.
  const int steps = eager.transformer_forwards / 2;
  EXPECT_GT(first.compile_seconds, 0);
  EXPECT_EQ(first.graph_replays, steps - 1);
  EXPECT_EQ(second.compile_seconds, 0);
  EXPECT_EQ(second.graph_replays, steps);
  bool recorded = false;
  for (const auto& [k, v] : first.parameters)
    if (k == "compile") recorded = v == "cuda-graphs (mode reduce-overhead), text encoder too";
  EXPECT_TRUE(recorded) << "the output's metadata does not record compile mode";
  EXPECT_EQ(second.final_latents, first.final_latents) << "replays are deterministic";
  // A prompt of another token count: the transformer replays its graph, UMT5 captures one for the
  // new count, and that capture is this generation's one-time cost.
  request.prompt = "A fox.";
  const GenerationResult third = generator.generate(request);
  EXPECT_GT(third.compile_seconds, 0) << "UMT5's capture is not in compile_seconds";
  EXPECT_EQ(third.graph_replays, steps);
}

// compile.vae_enabled: within a decode the first four chunks fill the causal caches eagerly, the
// fourth is captured, and the rest replay it; every decode gives the eager decoder's bytes, and a
// second decode captures anew. Three widths, so the capture holds each path the decoder's ops
// take: base_dim 8 (cuDNN convolutions), 24 (96 channels: our Hopper convolution) and 96 (Wan's
// own 384 channels, whose mid attention runs on GEMMs). Tiled, the whole tiles share one graph and
// the edge tiles stay eager.
TEST(CudaCompileMode, VaeReplaysGiveTheEagerDecode) {
  REQUIRE_GPU();
  for (const int64_t base : {8, 24, 96}) {
    WanVaeConfig config;
    config.base_dim = base;
    config.latents_mean.assign(16, 0.1f);
    config.latents_std.assign(16, 1.5f);
    Weights weights("vae");
    // Named: a temporary's all() in the range would dangle (C++20 extends only the range's own
    // temporary).
    const Weights host = testing::random_vae_weights(config);
    for (const auto& [name, t] : host.all()) weights.insert(name, t.to(kGpu).to(DType::BF16));
    const WanVaeDecoder eager(config, weights);
    WanVaeDecoder compiled(config, weights);
    compiled.enable_compile();
    const int64_t T = 7;
    DeviceAllocator& memory = DeviceAllocator::get(0);
    for (int round = 0; round < 2; ++round) {
      const Tensor latents = testing::randn({1, 16, T, 2, 3}).to(kGpu);
      const Tensor want = eager.decode(latents);
      memory.release_cached();
      const int64_t reserved = memory.stats().reserved;
      EXPECT_TRUE(same_bytes(compiled.decode(latents), want))
          << "base_dim " << base << ", round " << round;
      const CompileStats stats = compiled.compile_stats();
      EXPECT_EQ(stats.graphs, round + 1) << "base_dim " << base << ": one capture per decode";
      EXPECT_GT(stats.graph_memory_bytes, 0) << "base_dim " << base;
      EXPECT_EQ(stats.replays, (round + 1) * int(T - 4))
          << "base_dim " << base << ": chunks 4.." << T - 1 << " replay";
      // The graph and its memory go with the decode (round 1: every plan and workspace exists).
      memory.release_cached();
      if (round == 1) EXPECT_EQ(memory.stats().reserved, reserved) << "base_dim " << base;
    }
    // Four latent frames: chunk 3 is the first steady one and the last, so nothing is captured.
    const CompileStats before_short = compiled.compile_stats();
    const Tensor short_latents = testing::randn({1, 16, 4, 2, 3}).to(kGpu);
    EXPECT_TRUE(same_bytes(compiled.decode(short_latents), eager.decode(short_latents)))
        << "base_dim " << base << ", T 4";
    EXPECT_EQ(compiled.compile_stats().graphs, before_short.graphs) << "base_dim " << base;
    EXPECT_EQ(compiled.compile_stats().replays, before_short.replays) << "base_dim " << base;
    if (base != 8) continue;
    // Latents 4x6 in tiles of 2x3 every 1x2: six whole tiles (rows 0-2, columns 0 and 2) and six
    // edge tiles. The first whole tile captures at its chunk 3 and replays chunks 4 and 5; the
    // other five replay chunks 3 to 5.
    const VaeTiling tiling{
        .tile_height = 16, .tile_width = 24, .stride_height = 8, .stride_width = 16};
    const Tensor latents = testing::randn({1, 16, 6, 4, 6}).to(kGpu);
    const CompileStats before = compiled.compile_stats();
    EXPECT_TRUE(same_bytes(compiled.decode(latents, tiling), eager.decode(latents, tiling)))
        << "tiled";
    EXPECT_EQ(compiled.compile_stats().graphs, before.graphs + 1) << "tiled";
    EXPECT_EQ(compiled.compile_stats().replays, before.replays + 2 + 5 * 3) << "tiled";
  }
}

// compile.text_encoder_enabled: each prompt length's first encode is eager and captures a graph,
// later ones replay it, the least recently used of more than Umt5Graphs::kMaxGraphs (4) lengths is
// dropped; every encode gives the eager encoder's bytes.
TEST(CudaCompileMode, TextEncoderReplaysGiveTheEagerEncodeForEveryPromptLength) {
  REQUIRE_GPU();
  const CheckpointFolder ckpt = CheckpointFolder::open(testing::tiny_model_dir());
  const Umt5Config config = Umt5Config::from_checkpoint(ckpt);
  auto load = [&] {
    return Umt5Encoder(config, load_component(ckpt.path("text_encoder"), umt5_encoder_specs(config),
                                              DType::BF16, Device::cuda(0)));
  };
  const Umt5Encoder eager = load();
  Umt5Encoder compiled = load();
  compiled.enable_compile();
  // Five lengths, four graphs kept: 60 drops 17 (the least recently used; 5 was replayed since),
  // so 5 replays again and 17 is captured anew.
  const int lengths[] = {5, 17, 5, 33, 9, 60, 5, 17};
  for (int n : lengths) {
    std::vector<int32_t> ids;
    for (int i = 0; i + 1 < n; ++i) ids.push_back(2 + (i * 37 + n) % 300);
    ids.push_back(1);
    const Tensor want = eager.encode(ids).to(Device::cpu());
    const Tensor got = compiled.encode(ids).to(Device::cpu());
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_EQ(std::memcmp(got.raw_data(), want.raw_data(), got.nbytes()), 0)
        << n << " tokens: the compiled encoder's output differs from the eager encode";
  }
  const Umt5Encoder::CompileStats stats = compiled.compile_stats();
  EXPECT_EQ(stats.graphs, 6);
  EXPECT_EQ(stats.replays, 2);
  EXPECT_GT(stats.graph_memory_bytes, 0);
}

}  // namespace
}  // namespace fastvideo
