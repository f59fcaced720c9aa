// The text-to-video pipeline on the tiny model: determinism, CFG and CFG gating semantics
// (fastvideo.md §5), request validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include "attention/attention_registry.h"
#include "core/tensor.h"
#include "fastvideo/video_generator.h"
#include "io/safetensors.h"
#include "pipeline/compile_settings.h"
#include "pipeline/parallel_settings.h"
#include "quality/video_metrics.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

using testing::fox_request;

class Pipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::unsetenv("FASTVIDEO_CFG_GATE_STEP");
    GeneratorOptions on_cpu;  // the CPU semantics, on any machine
    on_cpu.device = "cpu";
    generator_ =
        new VideoGenerator(VideoGenerator::from_pretrained(testing::tiny_model_dir(), on_cpu));
  }
  static void TearDownTestSuite() { delete generator_; }
  void TearDown() override { ::unsetenv("FASTVIDEO_CFG_GATE_STEP"); }
  static VideoGenerator* generator_;
};
VideoGenerator* Pipeline::generator_ = nullptr;

TEST_F(Pipeline, SameSeedAndRequestGiveByteIdenticalFrames) {
  GenerationResult a = generator_->generate(fox_request());
  GenerationResult b = generator_->generate(fox_request());
  EXPECT_EQ(a.frames, 9);
  EXPECT_EQ(a.height, 64);
  EXPECT_EQ(a.width, 64);
  ASSERT_EQ(a.rgb.size(), size_t(9 * 64 * 64 * 3));
  EXPECT_TRUE(a.rgb == b.rgb) << "two runs of the same request differ";
  EXPECT_TRUE(a.final_latents == b.final_latents);
  GenerationRequest other = fox_request();
  other.seed = 8;
  EXPECT_FALSE(generator_->generate(other).rgb == a.rgb) << "the seed does not reach the noise";
}

TEST_F(Pipeline, CfgGateOneIsBitIdenticalToPlainCfg) {
  GenerationResult plain = generator_->generate(fox_request());
  ::setenv("FASTVIDEO_CFG_GATE_STEP", "1.0", 1);
  GenerationResult gated = generator_->generate(fox_request());
  EXPECT_TRUE(plain.final_latents == gated.final_latents);
  EXPECT_TRUE(plain.rgb == gated.rgb);
  EXPECT_EQ(gated.uncond_fresh, 4);
  EXPECT_EQ(gated.uncond_reused, 0);
  EXPECT_EQ(gated.transformer_forwards, 8);
}

TEST_F(Pipeline, CfgGateHalfSkipsTheUnconditionalPassOnTheSecondHalf) {
  GenerationResult plain = generator_->generate(fox_request());
  ::setenv("FASTVIDEO_CFG_GATE_STEP", "0.5", 1);
  GenerationResult gated = generator_->generate(fox_request());
  EXPECT_EQ(gated.uncond_fresh, 2);
  EXPECT_EQ(gated.uncond_reused, 2);
  EXPECT_EQ(gated.transformer_forwards, 6);
  EXPECT_FALSE(plain.final_latents == gated.final_latents) << "reused deltas changed nothing";
  GenerationRequest zero = fox_request();
  zero.cfg_gate_step = 0.0;  // step 0 still computes uncond (nothing cached yet)
  GenerationResult z = generator_->generate(zero);
  EXPECT_EQ(z.uncond_fresh, 1);
  EXPECT_EQ(z.uncond_reused, 3);
}

TEST_F(Pipeline, InvalidCfgGateValueIsAnErrorNamingTheVariable) {
  for (const char* bad : {"abc", "1.5", "-0.1", "0.5x"}) {
    ::setenv("FASTVIDEO_CFG_GATE_STEP", bad, 1);
    try {
      generator_->generate(fox_request());
      ADD_FAILURE() << "accepted FASTVIDEO_CFG_GATE_STEP=" << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("FASTVIDEO_CFG_GATE_STEP"), std::string::npos)
          << e.what();
    }
  }
}

// What loading the tiny model with `options` throws, or "no error".
std::string loading_error(const GeneratorOptions& options) {
  try {
    VideoGenerator::from_pretrained(testing::tiny_model_dir(), options);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(PipelineOptions, InvalidDeviceOrTextEncoderPrecisionIsAnErrorNamingTheValue) {
  auto message = loading_error;
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""}) {
    GeneratorOptions options;
    options.device = bad;
    const std::string m = message(options);
    EXPECT_NE(m.find(str_cat("device '", bad, "'")), std::string::npos) << m;
    EXPECT_NE(m.find("cpu, cuda or cuda:N"), std::string::npos) << m;
  }
  GeneratorOptions options;
  options.text_encoder_precision = "fp16";
  const std::string m = message(options);
  EXPECT_NE(m.find("text encoder precision 'fp16'"), std::string::npos) << m;
}

// FastVideo's vae_tiling on the tiny model at 176×176 in 128-pixel tiles every 96 (2×2 tiles): the
// frames match the untiled decode's (issue 12: MS-SSIM >= 0.99), and the run records the tiling.
TEST(PipelineVaeTiling, TiledDecodeMatchesTheUntiledFrames) {
  GeneratorOptions plain;
  plain.device = "cpu";
  GeneratorOptions tiled = plain;
  tiled.vae_tiling = true;
  tiled.vae_tile_size = 128;
  tiled.vae_tile_stride = 96;
  GenerationRequest r = fox_request();
  r.height = 176;
  r.width = 176;
  const GenerationResult a =
      VideoGenerator::from_pretrained(testing::tiny_model_dir(), plain).generate(r);
  const GenerationResult b =
      VideoGenerator::from_pretrained(testing::tiny_model_dir(), tiled).generate(r);
  ASSERT_EQ(a.rgb.size(), b.rgb.size());
  EXPECT_TRUE(a.final_latents == b.final_latents) << "tiling changed the denoising";
  EXPECT_FALSE(a.rgb == b.rgb) << "the tiles were not decoded on their own";
  auto video = [](const GenerationResult& g) {
    return Video{
        .frames = g.frames, .height = g.height, .width = g.width, .fps = g.fps, .rgb = g.rgb};
  };
  const double worst = compare_videos(video(a), video(b)).worst_ms_ssim.value;
  std::printf("[vae tiling] worst frame MS-SSIM tiled vs untiled: %.6f\n", worst);
  EXPECT_GE(worst, 0.99);
  bool recorded = false;
  for (const auto& [key, value] : b.parameters)
    recorded = recorded || (key == "vae_tiling" && value == "128 every 96 px");
  EXPECT_TRUE(recorded) << "vae_tiling is not in the output's parameters";
}

TEST(PipelineVaeTiling, TileSettingsAreCheckedAndNeverIgnored) {
  auto message = [](GeneratorOptions options) {
    options.device = "cpu";
    return loading_error(options);
  };
  GeneratorOptions off;
  off.vae_tile_size = 128;
  std::string m = message(off);
  // Only what was set is named (QA audit: the default stride was named as if set).
  EXPECT_NE(m.find("vae_tile_size=128 is set, but vae_tiling is off"), std::string::npos) << m;
  off.vae_tile_stride = 64;
  m = message(off);
  EXPECT_NE(m.find("vae_tile_size=128 and vae_tile_stride=64 are set, but vae_tiling is off"),
            std::string::npos)
      << m;
  // The default written out is a setting too (a helper's audit: --vae-tile-size 256 ran silently).
  GeneratorOptions same;
  same.vae_tile_size = kDefaultVaeTileSize;
  m = message(same);
  EXPECT_NE(m.find("vae_tile_size=256 is set, but vae_tiling is off"), std::string::npos) << m;
  GeneratorOptions odd;
  odd.vae_tiling = true;
  odd.vae_tile_size = 100;
  m = message(odd);
  EXPECT_NE(m.find("vae_tile_size=100: expected a positive multiple of 8 pixels"),
            std::string::npos)
      << m;
  GeneratorOptions wide;
  wide.vae_tiling = true;
  wide.vae_tile_stride = 264;
  m = message(wide);
  EXPECT_NE(m.find("vae_tile_stride=264: expected a positive multiple of 8 pixels, at most "
                   "vae_tile_size=256"),
            std::string::npos)
      << m;
}

// Compile mode's settings are checked before any weights load and never ignored: kwargs without
// the switch, values this engine has no counterpart for, the models it does not compile, and the
// CPU, where there are no CUDA graphs (tests/cuda_compile_test.cpp runs it on a GPU).
// The memory switches (docs/memory.md) on the CPU: offloading changes nothing there and is
// accepted; a device-memory budget and contradicting or missing switches are refused by name.
TEST(PipelineMemory, SwitchesAreCheckedAndNeverIgnored) {
  GeneratorOptions options;
  options.device = "cpu";
  options.dit_layerwise_offload = true;
  options.text_encoder_cpu_offload = true;
  EXPECT_NO_THROW(VideoGenerator::from_pretrained(testing::tiny_model_dir(), options));
  options.dit_layerwise_offload = false;
  options.dit_cpu_offload = true;
  EXPECT_NE(loading_error(options).find("contradict"), std::string::npos);
  options.dit_cpu_offload = std::nullopt;
  options.keep_text_encoder = true;  // beside text_encoder_cpu_offload = true (a helper's audit)
  EXPECT_NE(loading_error(options).find("keep_text_encoder=true and text_encoder_cpu_offload=true "
                                        "contradict each other"),
            std::string::npos)
      << loading_error(options);
  options = GeneratorOptions{};
  options.device = "cpu";
  options.vae_cpu_offload = true;
  EXPECT_NE(loading_error(options).find("vae_cpu_offload=true"), std::string::npos);
  options = GeneratorOptions{};
  options.device = "cpu";
  options.max_device_memory = int64_t(8) << 30;
  EXPECT_NE(loading_error(options).find("max_device_memory=8589934592 bytes"), std::string::npos);
  options.max_device_memory = -1;  // the value's own fault comes first, not the device's
  EXPECT_NE(loading_error(options).find("max_device_memory=-1 bytes is negative"),
            std::string::npos)
      << loading_error(options);
}

std::vector<Device> gpus(std::initializer_list<int> indices) {
  std::vector<Device> devices;
  for (int i : indices) devices.push_back(Device::cuda(i));
  return devices;
}

// num_gpus / sp_size (issue 15) are checked before any weights load, each refusal naming the
// setting: several GPUs on the CPU, an sp_size out of range, CFG-parallel groups (num_gpus a
// multiple of sp_size), and a device index past the machine's GPUs.
TEST(PipelineParallel, SettingsAreCheckedBeforeLoading) {
  auto message = [](int num_gpus, int sp_size, const char* device) {
    GeneratorOptions options;
    options.device = device;
    options.num_gpus = num_gpus;
    options.sp_size = sp_size;
    return loading_error(options);
  };
  EXPECT_NE(message(2, -1, "cpu").find("num_gpus 2 with the device cpu: several GPUs need a GPU"),
            std::string::npos);
  EXPECT_NE(message(1, 2, "cpu")
                .find("sp_size 2 with num_gpus 1: expected -1 (num_gpus) or 1 "
                      "(sequence parallelism over more GPUs needs num_gpus, --num-gpus)"),
            std::string::npos);
  EXPECT_NE(message(3, 2, "cpu").find("num_gpus 3 with sp_size 2: expected num_gpus = sp_size"),
            std::string::npos);
  // Only -1 means "num_gpus"; -7 was taken for it.
  EXPECT_NE(
      message(2, -7, "cpu").find("sp_size -7 with num_gpus 2: expected -1 (num_gpus) or 1 to 2"),
      std::string::npos);
  EXPECT_NE(message(4, 2, "cpu").find("num_gpus 4 with the device cpu"), std::string::npos);
  const ParallelPlan one =
      check_parallel_settings(GeneratorOptions{}, Device::cpu(), {.heads = 12});
  EXPECT_EQ(one.sp_size, 1);
  GeneratorOptions eight;
  eight.num_gpus = 8;
  EXPECT_NE(testing::error_of([&] {
              check_parallel_settings(eight, Device::cuda(2), {.heads = 12, .gpu_count = 8});
            }).find("num_gpus 8 from cuda:2 needs GPUs 2 to 9; this machine has 8 GPU(s)"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] {
              check_parallel_settings(eight, Device::cuda(0), {.heads = 12, .gpu_count = 8});
            }).find("12 attention heads do not divide among sp_size = 8"),
            std::string::npos);
  eight.num_gpus = 4;
  const ParallelPlan four =
      check_parallel_settings(eight, Device::cuda(4), {.heads = 12, .gpu_count = 8});
  EXPECT_EQ(four.devices, gpus({4, 5, 6, 7}));
  EXPECT_TRUE(four.uncond_devices.empty());
  eight.sp_size = 2;  // CFG-parallel: two groups of two
  const ParallelPlan cfg =
      check_parallel_settings(eight, Device::cuda(0), {.heads = 12, .gpu_count = 8});
  EXPECT_EQ(cfg.sp_size, 2);
  EXPECT_EQ(cfg.devices, gpus({0, 1}));
  EXPECT_EQ(cfg.uncond_devices, gpus({2, 3}));
  EXPECT_NE(testing::error_of([&] {
              check_parallel_settings(eight, Device::cuda(0),
                                      {.heads = 12, .gpu_count = 8, .runs_cfg = false});
            }).find("runs no unconditional pass, so half the GPUs would idle"),
            std::string::npos);
  eight.sp_size = -1;
  EXPECT_NE(testing::error_of([&] {
              check_parallel_settings(eight, Device::cuda(0),
                                      {.heads = 12, .gpu_count = 8, .compile = true});
            }).find("num_gpus 4 and enable_torch_compile do not go together"),
            std::string::npos);
}

// use_fsdp_inference (issue 15) acts on GPUs, for any num_gpus, and is refused by name on the CPU
// and beside compile mode, FP8 linears and layerwise offload.
TEST(PipelineParallel, ShardedWeightsAreCheckedBeforeLoading) {
  GeneratorOptions options;
  options.device = "cpu";
  options.use_fsdp_inference = true;
  EXPECT_TRUE(testing::contains(loading_error(options),
                                "use_fsdp_inference with the device cpu: sharded weights live on "
                                "GPUs"));
  options.num_gpus = 2;
  const ParallelPlan two =
      check_parallel_settings(options, Device::cuda(0), {.heads = 12, .gpu_count = 2});
  EXPECT_TRUE(two.sharded);
  EXPECT_EQ(two.devices, gpus({0, 1}));
  options.num_gpus = 1;
  EXPECT_TRUE(check_parallel_settings(options, Device::cuda(0), {.heads = 12}).sharded);
  const auto refusal = [&](const ParallelContext& context) {
    return testing::error_of([&] { check_parallel_settings(options, Device::cuda(0), context); });
  };
  EXPECT_TRUE(testing::contains(refusal({.heads = 12, .compile = true}),
                                "use_fsdp_inference and enable_torch_compile do not go together"));
  EXPECT_TRUE(testing::contains(refusal({.heads = 12, .fp8 = true}),
                                "use_fsdp_inference and transformer_quant FP8 do not go together"));
  options.dit_layerwise_offload = true;
  EXPECT_TRUE(testing::contains(refusal({.heads = 12}),
                                "use_fsdp_inference and dit_layerwise_offload / dit_cpu_offload"));
}

TEST(PipelineCompile, SettingsAreCheckedAndNeverIgnored) {
  auto message = [](void (*set)(GeneratorOptions&)) {
    GeneratorOptions options;
    options.device = "cpu";
    set(options);
    return loading_error(options);
  };
  const std::pair<void (*)(GeneratorOptions&), const char*> cases[] = {
      {[](GeneratorOptions& o) { o.torch_compile_kwargs.mode = "reduce-overhead"; },
       "torch_compile_kwargs are set, but enable_torch_compile is off"},
      {[](GeneratorOptions& o) { o.compile_vae = true; },
       "vae_enabled is set, but enable_torch_compile is off"},
      {[](GeneratorOptions& o) {
         o.enable_torch_compile = true;
         o.torch_compile_kwargs.mode = "max-autotune-no-cudagraphs";
       },
       "mode 'max-autotune-no-cudagraphs' is not one this engine runs"},
      {[](GeneratorOptions& o) {
         o.enable_torch_compile = true;
         o.torch_compile_kwargs.backend = "aot_eager";
       },
       "backend 'aot_eager' is not one this engine has"},
      {[](GeneratorOptions& o) {
         o.enable_torch_compile = true;
         o.compile_text_encoder = true;
         o.text_encoder_cpu_offload = true;
       },
       "compile.text_encoder_enabled and text_encoder_cpu_offload do not go together"},
      {[](GeneratorOptions& o) {
         o.enable_torch_compile = true;
         o.compile_vae = true;
       },
       "compile mode captures CUDA graphs and the device is cpu"},
      {[](GeneratorOptions& o) {
         o.enable_torch_compile = true;
         o.compile_text_encoder = true;
       },
       "compile mode captures CUDA graphs and the device is cpu"},
      {[](GeneratorOptions& o) { o.enable_torch_compile = true; },
       "compile mode captures CUDA graphs and the device is cpu"},
  };
  for (const auto& [set, expected] : cases) {
    const std::string m = message(set);
    EXPECT_NE(m.find(expected), std::string::npos) << m;
  }
}

TEST(PipelineCompile, BackendsWhoseStepsCannotBeReplayedAreRefusedByName) {
  const AttentionBackendRegistry& registry = AttentionBackendRegistry::builtin();
  for (const char* name : {"SLIDING_TILE_ATTN", "VMOBA_ATTN"}) {
    const std::string m =
        testing::error_of([&] { check_compile_backend(registry.get(name, "test")); });
    EXPECT_TRUE(testing::contains(m, str_cat("enable_torch_compile (generator.engine.compile."
                                             "enabled, --enable-torch-compile) with ",
                                             name, ": compile mode replays")))
        << m;
    EXPECT_TRUE(testing::contains(m, "turn compile mode off or choose another")) << m;
  }
  for (const char* name : {"TORCH_SDPA", "FLASH_ATTN", "SAGE_ATTN", "VIDEO_SPARSE_ATTN", "SLA_ATTN",
                           "SAGE_SLA_ATTN"}) {
    EXPECT_NO_THROW(check_compile_backend(registry.get(name, "test"))) << name;
  }
}

TEST_F(Pipeline, GuidanceAtMostOneRunsOnePassPerStep) {
  GenerationRequest r = fox_request();
  r.guidance_scale = 1.0;
  GenerationResult g = generator_->generate(r);
  EXPECT_EQ(g.transformer_forwards, 4);
  EXPECT_EQ(g.uncond_fresh, 0);
  // A negative prompt given then has no effect, which is said rather than left silent (QA
  // audit); FastVideo's own FastWan run file sets one for its CFG-free DMD, so it is not refused.
  r.negative_prompt = "blurry";
  ::testing::internal::CaptureStderr();
  generator_->generate(r);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("negative_prompt is not used"), std::string::npos) << log;
}

// CFG gating skips the unconditional pass, which a request without CFG never runs (audit: both
// were silently ignored). A cfg_gate_step below 1 in the request is refused by name, by resolve()
// as by generate(); 1 (no gating) changes nothing and is taken. FASTVIDEO_CFG_GATE_STEP is global
// and may be meant for other runs: one warning line per generation instead.
TEST_F(Pipeline, CfgGateStepWithoutCfgIsRefusedAndTheVariableIsWarnedAbout) {
  GenerationRequest r = fox_request();
  r.guidance_scale = 1.0;
  r.cfg_gate_step = 0.5;
  for (auto call : {+[](VideoGenerator&g, const GenerationRequest&q) { g.resolve(q); },
                    +[](VideoGenerator&g, const GenerationRequest&q) { g.generate(q); }}) {
    const std::string m = testing::error_of([&] { call(*generator_, r); });
    EXPECT_TRUE(testing::contains(m,
                                  "cfg_gate_step=0.5 is not used: guidance_scale=1 runs one "
                                  "pass per step, without classifier-free guidance") &&
                testing::contains(m, "set guidance_scale above 1"))
        << m;
  }
  r.cfg_gate_step = 1.0;
  EXPECT_EQ(generator_->generate(r).transformer_forwards, 4);

  r.cfg_gate_step.reset();
  ::setenv("FASTVIDEO_CFG_GATE_STEP", "0.5", 1);
  ::testing::internal::CaptureStderr();
  const GenerationResult g = generator_->generate(r);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(g.transformer_forwards, 4);
  const std::string warning =
      "FASTVIDEO_CFG_GATE_STEP=0.5 is ignored: guidance_scale=1 runs one pass per step, without "
      "classifier-free guidance\n";
  const size_t at = log.find(warning);
  EXPECT_TRUE(at != std::string::npos && log.find(warning, at + 1) == std::string::npos)
      << "not one warning line:\n"
      << log;
  // With CFG the variable gates and nothing is said.
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(generator_->generate(fox_request()).uncond_reused, 2);
  EXPECT_FALSE(testing::contains(::testing::internal::GetCapturedStderr(), "is ignored"));
}

TEST_F(Pipeline, InvalidSizesAndFrameCountsNameTheValueAndWhatWouldWork) {
  auto message = [&](GenerationRequest r) -> std::string {
    try {
      generator_->generate(r);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  GenerationRequest r = fox_request();
  r.height = 70;
  EXPECT_NE(message(r).find("height=70 must be a positive multiple of 16 (try 64 or 80)"),
            std::string::npos)
      << message(r);
  r = fox_request();
  r.width = 8;
  EXPECT_NE(message(r).find("width=8"), std::string::npos);
  r = fox_request();
  r.num_frames = 10;
  EXPECT_NE(message(r).find("num_frames=10 must be 4n+1 with n >= 0 (try 9 or 13)"),
            std::string::npos)
      << message(r);
  // Bounded by the transformer's RoPE positions (1024 per axis), before any work.
  r = fox_request();
  r.height = 16400;
  EXPECT_NE(message(r).find("height=16400 is more than the transformer's 1024 positions per axis "
                            "allow (at most 16384)"),
            std::string::npos)
      << message(r);
  // The sizes suggested are ones the model takes (16400 and 4097 were suggested, then refused).
  r = fox_request();
  r.height = 16390;
  EXPECT_NE(message(r).find("(try 16384)"), std::string::npos) << message(r);
  r = fox_request();
  r.num_frames = 4095;
  EXPECT_NE(message(r).find("(try 4093)"), std::string::npos) << message(r);
  // A value just past a bound is printed as given, not rounded onto it ("100 must be in [0, 100]").
  r = fox_request();
  r.guidance_scale = 100.0001;
  EXPECT_NE(message(r).find("guidance_scale=100.0001 must be"), std::string::npos) << message(r);
  // A rate the writers cannot express is refused before the work, not after it.
  r = fox_request();
  r.fps = 1e-7;
  EXPECT_NE(message(r).find("fps=1e-07 must be in [0.01, 240]"), std::string::npos) << message(r);
  r = fox_request();
  r.width = -64;
  EXPECT_NE(message(r).find("width=-64 must be a positive multiple of 16 (try 16)"),
            std::string::npos)
      << message(r);
}

// Given latents are checked by resolve() as by generate(), before any work (QA audit: resolve()
// passed a wrong size, and NaN latents failed later as a NaN in the transformer's output).
TEST_F(Pipeline, GivenLatentsOfTheWrongSizeOrNotFiniteAreRefusedByResolve) {
  GenerationRequest r = fox_request();
  r.initial_latents.assign(7, 0.0f);
  for (auto call : {+[](VideoGenerator&g, const GenerationRequest&q) { g.resolve(q); },
                    +[](VideoGenerator&g, const GenerationRequest&q) { g.generate(q); }}) {
    const std::string m = testing::error_of([&] { call(*generator_, r); });
    EXPECT_TRUE(testing::contains(m, "initial_latents has 7 values; the request needs [1,16,"))
        << m;
  }
  r = fox_request();
  const GenerationResult ok = generator_->generate(r);
  r.initial_latents.assign(ok.final_latents.size(), 0.5f);
  r.initial_latents[3] = std::nanf("");
  const std::string m = testing::error_of([&] { generator_->resolve(r); });
  EXPECT_TRUE(testing::contains(m, "initial_latents[3] is nan; latents must be finite")) << m;
}

// The self-attention's settings against the request's grid are checked by resolve() as by
// generate(), before any work (API audit: resolve() passed both; generate() failed after the text
// encoding): SLA's default topk_ratio 0.1 keeps no block of the tiny video's one, and no STA
// search candidate is smaller than its one-tile grid.
TEST(PipelineSettings, ASelfAttentionThatCannotRunOnTheGridIsRefusedByResolve) {
  GeneratorOptions sla;
  sla.device = "cpu";
  sla.attention_backend = "SLA_ATTN";
  GeneratorOptions sta = sla;
  sta.attention_backend = "SLIDING_TILE_ATTN";
  sta.sta_search_candidates = {{1, 1, 1}};
  for (const auto& [options, culprit] :
       {std::pair{sla, "SLA topk_ratio 0.1 keeps no key block of 1"},
        std::pair{sta,
                  "no candidate window is smaller than the grid of [1, 1, 1] tiles of 6x8x8; "
                  "a grid of one tile has no smaller window: search a larger video"}}) {
    VideoGenerator generator = VideoGenerator::from_pretrained(testing::tiny_model_dir(), options);
    for (auto call : {+[](VideoGenerator&g, const GenerationRequest&q) { g.resolve(q); },
                      +[](VideoGenerator&g, const GenerationRequest&q) { g.generate(q); }}) {
      const std::string m = testing::error_of([&] { call(generator, fox_request()); });
      EXPECT_TRUE(testing::contains(m, culprit)) << m;
    }
  }
}

// Prompts reach the tokenizer, the metadata and file names: each is checked by its own name.
TEST_F(Pipeline, PromptsWithANulByteOrInvalidUtf8AreRefusedByField) {
  auto message = [&](GenerationRequest r) -> std::string {
    try {
      generator_->generate(r);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  GenerationRequest r = fox_request();
  r.prompt = " \t ";  // as empty as "", which is refused
  EXPECT_NE(message(r).find("prompt holds only whitespace"), std::string::npos) << message(r);
  r.prompt =
      "\u3000\u2003";  // Python's whitespace, as a prompt list in the Python package reads it
  EXPECT_NE(message(r).find("prompt holds only whitespace"), std::string::npos) << message(r);
  r = fox_request();
  r.negative_prompt = std::string("blurry\0 static", 14);
  EXPECT_NE(message(r).find("negative_prompt holds a NUL byte at offset 6"), std::string::npos)
      << message(r);
  r = fox_request();
  r.prompt = "a fox \xC3";
  EXPECT_NE(message(r).find("prompt is not valid UTF-8: truncated sequence at offset 6"),
            std::string::npos)
      << message(r);
  r = fox_request();
  r.guidance_scale = 1e9;
  EXPECT_NE(message(r).find("guidance_scale=1e+09 must be in [0, 100]"), std::string::npos)
      << message(r);
}

TEST_F(Pipeline, ReportsEveryStageWithTimeAndPeakMemory) {
  GenerationResult g = generator_->generate(fox_request());
  std::vector<std::string> names;
  for (auto& s : g.stages) {
    names.push_back(s.name);
    EXPECT_GE(s.seconds, 0);
    EXPECT_GT(s.peak_bytes, 0) << s.name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"validate", "encode_text", "prepare_timesteps",
                                             "prepare_latents", "denoise", "decode"}));
}

// The recorded parameters are what the run applied: without CFG no negative prompt and no gating
// (both were recorded as given, beside a warning that they went unused), and max_sequence_length,
// which changes the video.
TEST_F(Pipeline, TheParametersRecordWhatTheRunApplied) {
  GenerationRequest r = fox_request();
  r.guidance_scale = 1.0;
  r.negative_prompt = "blurry";
  r.cfg_gate_step = 1.0;
  r.max_sequence_length = 10;
  std::map<std::string, std::string> p;
  for (const auto& [k, v] : generator_->resolve(r)) p[k] = v;
  EXPECT_EQ(p.at("negative_prompt"), "");
  EXPECT_EQ(p.at("cfg_gate_step"), "1");
  EXPECT_EQ(p.at("max_sequence_length"), "10");
  r.guidance_scale = 3.0;
  p.clear();
  for (const auto& [k, v] : generator_->resolve(r)) p[k] = v;
  EXPECT_EQ(p.at("negative_prompt"), "blurry");
}

// request_stop from the progress callback (as a signal handler or another thread would ask): the
// generation ends with Cancelled after that step, writes nothing, and the next one runs normally.
TEST_F(Pipeline, AStopRequestEndsTheGenerationAfterTheStepAndLeavesNoOutput) {
  struct Watch {
    VideoGenerator* generator;
    int steps = 0;
  } watch{generator_};
  generator_->set_progress(
      [](int step, int, double, void* user) {
        auto* w = static_cast<Watch*>(user);
        w->steps = step;
        if (step == 2) w->generator->request_stop();
      },
      &watch);
  GenerationRequest r = fox_request();
  r.output_path = testing::temp_dir("stop") / "fox.y4m";
  try {
    generator_->generate(r);
    ADD_FAILURE() << "the stop request was ignored";
  } catch (const Cancelled& e) {
    EXPECT_NE(std::string(e.what()).find("after step 2 of 4"), std::string::npos) << e.what();
  }
  generator_->set_progress(nullptr, nullptr);
  EXPECT_EQ(watch.steps, 2);
  EXPECT_FALSE(std::filesystem::exists(r.output_path));
  EXPECT_TRUE(std::filesystem::is_empty(r.output_path.parent_path())) << "a temporary was left";
  // The request was consumed: the next generation runs to the end.
  EXPECT_EQ(generator_->generate(r).output_path, r.output_path);
  // One asked for between generations applies to the next, unless dropped.
  generator_->request_stop();
  EXPECT_THROW(generator_->generate(fox_request()), Cancelled);
  generator_->request_stop();
  generator_->drop_pending_stop();
  EXPECT_NO_THROW(generator_->generate(fox_request()));
}

// GeneratorOptions::stop_requested is polled between the tensors being loaded: a stop during
// loading ends from_pretrained with Cancelled naming the component, and the poll goes quiet once
// loading is over (generations are stopped by request_stop()).
TEST(PipelineLoading, AStopRequestedWhileLoadingEndsItWithCancelled) {
  GeneratorOptions options;
  options.device = "cpu";
  int polls = 0;
  options.stop_requested = [&polls] { return ++polls == 3; };
  try {
    VideoGenerator::from_pretrained(testing::tiny_model_dir(), options);
    ADD_FAILURE() << "the stop request was ignored";
  } catch (const Cancelled& e) {
    EXPECT_TRUE(std::string(e.what()).starts_with("stopped during loading ")) << e.what();
  }
  EXPECT_EQ(polls, 3);
  polls = 0;
  options.stop_requested = [&polls] { return ++polls < 0; };
  VideoGenerator loaded = VideoGenerator::from_pretrained(testing::tiny_model_dir(), options);
  const int loading_polls = polls;
  EXPECT_GT(loading_polls, 3);  // one per tensor
  loaded.generate(fox_request());
  EXPECT_EQ(polls, loading_polls);
}

// generate() from several threads on one generator: the calls run one after another, each with
// the frames a lone call gives (before, the text encoder's release in one run freed it under
// another: crashes or garbage errors).
TEST_F(Pipeline, CallsFromSeveralThreadsRunOneAtATime) {
  const GenerationRequest r = fox_request();
  const std::vector<uint8_t> want = generator_->generate(r).rgb;
  std::vector<std::vector<uint8_t>> got(3);
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        got[i] = generator_->generate(r).rgb;
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(errors[i], "") << "thread " << i;
    EXPECT_TRUE(got[i] == want) << "thread " << i << " got other frames";
  }
}

// generate() from its own progress callback would wait for itself: an Error instead, and the
// outer generation carries on.
TEST_F(Pipeline, ACallFromItsOwnProgressCallbackIsRefused) {
  struct Watch {
    VideoGenerator* generator;
    std::string error;
  } watch{generator_};
  generator_->set_progress(
      [](int step, int, double, void* user) {
        auto* w = static_cast<Watch*>(user);
        if (step != 1) return;
        try {
          w->generator->generate(fox_request());
        } catch (const Error& e) {
          w->error = e.what();
        }
      },
      &watch);
  const GenerationResult result = generator_->generate(fox_request());
  generator_->set_progress(nullptr, nullptr);
  EXPECT_NE(watch.error.find("called from its own progress callback"), std::string::npos)
      << watch.error;
  EXPECT_FALSE(result.rgb.empty());
}

// Weights out of range in the text encoder made the first sign of it the transformer's NaN at
// denoising step 0; the error now names the text encoder (checkpoint audit). Its final norm's
// weight at 3e38 overflows every hidden value above 1.13 in magnitude.
TEST(PipelineWeights, AnOverflowingTextEncoderIsNamedAsSuch) {
  namespace fs = std::filesystem;
  const fs::path dir = testing::temp_dir("text-encoder-overflow") / "model";
  fs::copy(testing::tiny_model_dir(), dir, fs::copy_options::recursive);
  const fs::path shard = dir / "text_encoder/model-00002-of-00002.safetensors";
  std::vector<std::pair<std::string, Tensor>> tensors;
  {
    const SafetensorsFile file = SafetensorsFile::open(shard);
    for (const std::string& name : file.names()) {
      Tensor t = file.tensor(name).to(DType::F32).contiguous();
      if (name == "encoder.final_layer_norm.weight") {
        for (float& x : t.f32()) x = 3e38f;
      }
      tensors.emplace_back(name, t.to(file.info(name).dtype));
    }
  }
  ASSERT_TRUE(std::any_of(tensors.begin(), tensors.end(), [](const auto& t) {
    return t.first == "encoder.final_layer_norm.weight";
  })) << "the tiny model's shards moved";
  write_safetensors(shard, tensors);
  GeneratorOptions on_cpu;
  on_cpu.device = "cpu";
  VideoGenerator generator = VideoGenerator::from_pretrained(dir, on_cpu);
  GenerationRequest r = fox_request();
  r.num_inference_steps = 1;
  const std::string e = testing::error_of([&] { generator.generate(r); });
  EXPECT_NE(e.find("the text encoder's output for the prompt contains NaN or Inf"),
            std::string::npos)
      << e;
}

}  // namespace
}  // namespace fastvideo
