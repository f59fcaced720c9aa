// fastvideo bench denoise: the whole denoising loop of a 1.3B generation as the pipeline runs it
// (text_to_video_pipeline.cpp, denoise stage): per step a conditional and an unconditional
// transformer forward, CFG (guidance 5.0), the NaN check, a FlowUniPC step, with the latents on
// the device. Random weights made in device memory (wan21.md §0 1.3B config) or a checkpoint's
// transformer; 480×832×81 by default. --steps runs only the first steps of the N-step schedule
// and extrapolates the total (labelled so). tools/bench/torch_denoise_anchor.py is the anchor.
// --fastwan runs FastWan's loop instead (pipeline/dmd_denoise_loop.h): its preset 448×832×61, the
// 3 DMD steps [1000, 757, 522], one forward per step, VSA at sparsity 0.8 with gate weights.
// Attention backends are chosen as the pipeline chooses them (--attention-backend, else
// FASTVIDEO_ATTENTION_BACKEND, else automatic; --fastwan defaults to VIDEO_SPARSE_ATTN).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "attention/attention_device.h"
#include "attention/attention_selection.h"
#include "bench_commands.h"
#include "core/compute_device.h"
#include "core/env.h"
#include "core/format_number.h"
#include "core/parse_number.h"
#include "core/torch_random.h"
#include "io/checkpoint.h"
#include "json_output.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/wan_presets.h"
#include "ops/elementwise.h"
#include "ops/gemm_autotune.h"
#include "pipeline/cfg_gate.h"
#include "pipeline/denoise_loop.h"
#include "pipeline/dmd_denoise_loop.h"
#include "pipeline/latent_noise.h"
#include "pipeline/memory_plan.h"
#include "pipeline/sparse_attention_settings.h"
#include "pipeline/transformer_quant.h"
#include "pipeline/wan_checkpoint.h"
#include "random_checkpoint/random_weights.h"
#include "sample_stats.h"
#include "schedulers/make_scheduler.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_context.h"
#endif

namespace fastvideo::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchDenoiseFlags {
  std::string model, device = "cuda", json, scheduler = "flow_unipc", attention_backend;
  bool fastwan = false;
  bool compile = false;            // compile mode: forwards replayed from CUDA graphs
  bool autotune = false;           // GEMM autotuning (compile mode max-autotune)
  int64_t cfg_batch_tokens = -1;   // forward_cfg batches up to this many tokens; -1: the default
  std::string config = "1.3b";     // random weights of this preset's size
  bool layerwise_offload = false;  // dit_layerwise_offload: blocks streamed from pinned memory
  std::string transformer_quant;   // "FP8": the blocks' linears in FP8 (transformer_quant)
  std::string max_device_memory;   // a budget, e.g. 24GiB
  std::optional<double> vsa_sparsity;  // --fastwan only; unset: the preset's
  int height = 480, width = 832, num_frames = 81;
  int num_inference_steps = 50, steps = 0;  // steps 0: all of them
  double guidance_scale = 5.0, flow_shift = 3.0;
  uint64_t seed = 0;
};

// --transformer-quant FP8: the blocks' linears to FP8 at load, as the pipeline does (not with
// --layerwise-offload, which it refuses too).
void quantize_if_asked(WanTransformer& dit, const BenchDenoiseFlags& f) {
  if (checked_transformer_quant(f.transformer_quant, "bench denoise --transformer-quant").empty())
    return;
  FV_CHECK(!f.layerwise_offload,
           "bench denoise: --transformer-quant FP8 and --layerwise-offload do not go together");
  dit.quantize_linears_fp8();
  std::printf(
      "transformer linears: FP8 (E4M3 weights per output channel, activations per token; the "
      "FFN's down projection in 128-wide scales where served)\n");
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Random transformer weights on `device` (bf16 plus the f32 keep-list on a GPU, f32 on the CPU),
// with gates in every block when `gate` says so.
Weights random_transformer(const WanTransformerConfig& config, VsaGateLayout gate, uint64_t seed,
                           DType dtype, Device device) {
  const std::set<std::string> fp32 = wan_transformer_fp32_names(config);
  Weights weights("transformer");
  for (const TensorSpec& spec : wan_transformer_specs(config, {.gate = gate})) {
    weights.insert(spec.name,
                   random_weight(spec, seed, fp32.count(spec.name) ? DType::F32 : dtype, device));
  }
  return weights;
}

// FastWan's 3-step DMD loop at its preset, random 1.3B weights with VSA gates.
int run_bench_fastwan(const BenchDenoiseFlags& f, Device device, const std::string& card) {
  const WanModelPreset& preset = wan_model_preset("fastwan-1.3b");
  const WanTransformerConfig config = wan_transformer_config(preset);
  const WanGeometry geometry(WanVaeConfig{}, config);
  const SamplingDefaults& d = preset.sampling;
  const DType dtype = device.is_cpu() ? DType::F32 : DType::BF16;
  // --attention-backend, else FASTVIDEO_ATTENTION_BACKEND, else VIDEO_SPARSE_ATTN (FastWan's).
  const std::optional<std::string> env = env_string(kAttentionBackendEnv);
  const bool chosen = !f.attention_backend.empty() || (env && !env->empty());
  const AttentionSelection attention =
      select_attention_backends(chosen ? f.attention_backend : std::string(kVsaBackendName), env,
                                attention_device_for(device), {config.attention_head_dim, dtype});
  // Checked as generate checks it: in [0, 1), and only with VIDEO_SPARSE_ATTN.
  const double vsa_sparsity =
      resolve_vsa_sparsity(f.vsa_sparsity, d.vsa_sparsity, *attention.self, attention.source);
  const bool vsa = attention.self->name() == kVsaBackendName;  // the only backend that reads it
  const std::string sparsity =
      vsa ? str_cat(", VSA_sparsity ", shortest(vsa_sparsity)) : std::string();
  std::printf(
      "fastvideo bench denoise --fastwan: FastWan 1.3B (%d blocks), random weights with gates, "
      "%dx%dx%d, %zu DMD steps, attention %s%s, on %s (%s)\n",
      config.num_layers, d.height, d.width, d.num_frames, d.dmd_timesteps.size(),
      attention.describe().c_str(), sparsity.c_str(), device.name().c_str(), card.c_str());
  std::fflush(stdout);
  WanTransformer dit(config,
                     random_transformer(config, VsaGateLayout::InBlock, f.seed, dtype, device),
                     *attention.self, *attention.cross);
  quantize_if_asked(dit, f);
  if (f.compile) dit.enable_compile();  // the untimed loop below captures the graphs
  const Shape latent_shape = geometry.latent_shape(d.num_frames, d.height, d.width);
  const Shape text_shape = {1, WanGeometry::kTextLength, config.text_dim};
  const auto text =
      dit.prepare_text(ops::scale(torch_randn(text_shape, f.seed + 1), 0.2f).to(device).to(dtype));

  // One untimed loop first (kernel plans, RoPE tables, tilings, allocator pool), then the timed
  // one, each from the request's generator as the pipeline draws it.
  std::vector<double> step_seconds;
  double total = 0;
  int forwards = 0;
  for (int run = 0; run < 2; ++run) {
    TorchGenerator generator(f.seed);
    Tensor latents = draw_latent_noise(generator, latent_shape, WanPipelineKind::Dmd).to(device);
    step_seconds.clear();
    synchronize_device(device);
    const auto t0 = Clock::now();
    forwards = run_dmd_denoise_loop(
        {dit, geometry, text, d.dmd_timesteps, {.vsa_sparsity = vsa_sparsity}, generator}, latents,
        [&](int, double seconds) { step_seconds.push_back(seconds); });
    synchronize_device(device);
    total = seconds_since(t0);
  }
  for (size_t i = 0; i < step_seconds.size(); ++i)
    std::printf("  step %zu/%zu: %.3f s\n", i + 1, step_seconds.size(), step_seconds[i]);
  std::printf("denoise: %zu DMD steps, %d transformer forwards, %.3f s total (second run)\n",
              step_seconds.size(), forwards, total);
  if (!f.json.empty()) {
    nlohmann::ordered_json out;
    out["bench"] = "denoise --fastwan";
    out["device"] = device.name();
    out["card"] = card;
    out["latent_shape"] = latent_shape;
    out["attention"] = attention.describe();
    out["vsa_sparsity"] =
        vsa ? nlohmann::ordered_json(vsa_sparsity) : nlohmann::ordered_json(nullptr);
    out["transformer_quant"] =
        checked_transformer_quant(f.transformer_quant, "--transformer-quant");
    out["step_seconds"] = step_seconds;
    out["seconds"] = total;
    write_json_results(f.json, out);
  }
  return 0;
}

int run_bench_denoise(const BenchDenoiseFlags& f) {
  FV_CHECK(f.num_inference_steps >= 1, "bench denoise: --num-inference-steps must be >= 1");
  const int steps = f.steps ? f.steps : f.num_inference_steps;
  FV_CHECK(steps >= 1 && steps <= f.num_inference_steps, "bench denoise: --steps ", f.steps,
           " is not in 1..", f.num_inference_steps);
  const Device device = parse_compute_device(f.device);
  // Before any weights load: the transformer would refuse these on the CPU, only later.
  FV_CHECK(!device.is_cpu() || (!f.compile && !f.autotune), "bench denoise: ",
           f.compile ? "--compile (CUDA graphs)" : "--autotune (cuBLASLt's GEMMs)",
           " needs a GPU; the device is cpu");
  const DType dtype = device.is_cpu() ? DType::F32 : DType::BF16;
  std::string card = "cpu";
#ifdef FASTVIDEO_HAVE_CUDA
  if (!device.is_cpu()) card = use_cuda_device(device.index).info().name;
#endif
  if (f.fastwan) return run_bench_fastwan(f, device, card);

  std::optional<CheckpointFolder> checkpoint;
  WanTransformerConfig config;
  WanVaeConfig vae_config;  // Wan2.1's unless the checkpoint says otherwise
  if (f.model.empty()) {
    config = wan_transformer_config(wan_model_preset(f.config));
  } else {
    checkpoint = open_wan_checkpoint(f.model);
    config = WanTransformerConfig::from_checkpoint(*checkpoint);
    vae_config = WanVaeConfig::from_checkpoint(*checkpoint);
  }
  const WanGeometry geometry(vae_config, config);
  const std::string bad_size = geometry.invalid_size(f.num_frames, f.height, f.width);
  FV_CHECK(bad_size.empty(), "bench denoise: ", bad_size);
  std::printf(
      "fastvideo bench denoise: %s transformer (%d blocks), %s weights, %dx%dx%d, "
      "%d of %d steps, guidance %.1f, %s, on %s (%s)\n",
      f.model.empty() ? ("Wan2.1 " + f.config).c_str() : f.model.c_str(), config.num_layers,
      f.model.empty() ? "random" : "checkpoint", f.height, f.width, f.num_frames, steps,
      f.num_inference_steps, f.guidance_scale, f.scheduler.c_str(), device.name().c_str(),
      card.c_str());
  std::fflush(stdout);

  // The pipeline's weights: bf16 with the f32 keep-list on a GPU (wan21.md §1.2), f32 on the CPU.
  const std::set<std::string> fp32 = wan_transformer_fp32_names(config);
  const AttentionSelection attention =
      select_attention_backends(f.attention_backend, env_string(kAttentionBackendEnv),
                                attention_device_for(device), {config.attention_head_dim, dtype});
  std::printf("attention backends: %s\n", attention.describe().c_str());
  std::optional<int64_t> budget_bytes = int64_t(0);
  if (!f.max_device_memory.empty()) budget_bytes = parse_byte_size(f.max_device_memory);
  FV_CHECK(budget_bytes, "bench denoise: --max-device-memory '", f.max_device_memory,
           "': expected a size such as 24GiB");
  const DeviceMemoryBudget budget(device, *budget_bytes);
  // Layerwise offload: the blocks stay off the GPU and stream (two resident); from a checkpoint
  // they are left mapped, as the pipeline leaves them, the random ones are made on the host.
  Weights weights =
      checkpoint ? load_component(checkpoint->path("transformer"), wan_transformer_specs(config),
                                  dtype, device, &fp32, f.layerwise_offload ? "blocks." : "")
                 : random_transformer(config, VsaGateLayout::Absent, f.seed, dtype,
                                      f.layerwise_offload ? Device::cpu() : device);
  const auto offload =
      f.layerwise_offload
          ? std::optional<WanLayerwiseOffload>(WanLayerwiseOffload{.device = device})
          : std::nullopt;
  WanTransformer dit(config, std::move(weights), *attention.self, *attention.cross, offload);
  std::printf("transformer weights: %s; device memory budget: %s\n",
              offload ? "blocks in pinned host memory, streamed (2 resident)" : "resident",
              *budget_bytes ? format_gib(*budget_bytes).c_str() : "none");
  quantize_if_asked(dit, f);
  if (f.compile) dit.enable_compile();
  dit.set_gemm_autotune(f.autotune);
  if (f.cfg_batch_tokens >= 0) dit.set_cfg_batch_tokens(f.cfg_batch_tokens);

  // Noise as the pipeline draws it; prompt embeddings ~ UMT5 outputs (O(0.1)), two prompts.
  const Shape latent_shape = geometry.latent_shape(f.num_frames, f.height, f.width);
  const Tensor noise = torch_randn(latent_shape, f.seed).to(device);
  const Shape text_shape = {1, WanGeometry::kTextLength, config.text_dim};
  const auto cond_text =
      dit.prepare_text(ops::scale(torch_randn(text_shape, f.seed + 1), 0.2f).to(device).to(dtype));
  const auto uncond_text =
      dit.prepare_text(ops::scale(torch_randn(text_shape, f.seed + 2), 0.2f).to(device).to(dtype));

  // A checkpoint's scheduler_config.json, as the pipeline reads it (--scheduler checkpoint).
  const std::optional<JsonFile> scheduler_config =
      checkpoint ? std::optional<JsonFile>(checkpoint->config("scheduler")) : std::nullopt;
  auto scheduler =
      make_scheduler(f.scheduler, f.flow_shift, scheduler_config ? &*scheduler_config : nullptr);
  scheduler->set_timesteps(f.num_inference_steps);
  // Warm-up: one forward pair at the first timestep (kernel plans, RoPE tables, allocator pool;
  // with --compile, the graph's capture: the one-time cost, reported apart).
  {
    const double ts[] = {scheduler->timesteps()[0]};
    dit.forward_cfg(noise, ts, cond_text, uncond_text, nullptr);
    synchronize_device(device);
  }
  const int64_t tokens = geometry.tokens(f.num_frames, f.height, f.width);
  std::printf("CFG passes: %s (%lld tokens; batched up to %lld)\n",
              tokens <= dit.cfg_batch_tokens() ? "one forward of batch 2" : "two forwards",
              (long long)tokens, (long long)dit.cfg_batch_tokens());

  reset_device_peak(device);
  CfgGate gate(1.0, f.guidance_scale, f.num_inference_steps);
  Tensor latents = noise;
  std::vector<double> step_seconds;
  const auto t_loop = Clock::now();
  // The pipeline's own loop (pipeline/denoise_loop.h): on a GPU it waits for step i only once step
  // i+1 is queued, so the steps are timed from one finish to the next.
  const int forwards =
      run_denoise_loop({dit, geometry, *scheduler, cond_text, uncond_text, gate, {}}, latents,
                       steps, [&](int i, double seconds) {
                         step_seconds.push_back(seconds);
                         std::printf("  step %d/%d: %.3f s\n", i + 1, steps, seconds);
                         std::fflush(stdout);
                       });
  synchronize_device(device);
  const double total = seconds_since(t_loop);
  const int64_t peak = device_peak_bytes(device);
  const double per_step = total / steps;
  const bool extrapolated = steps < f.num_inference_steps;
  const double full = per_step * f.num_inference_steps;

  const double median_step = sample_stats(step_seconds).median;
  std::printf(
      "denoise: %d steps, %d transformer forwards, %.3f s total, %.4f s/step (median %.4f)\n",
      steps, forwards, total, per_step, median_step);
  if (extrapolated) {
    std::printf("EXTRAPOLATED %d-step loop: %.2f s (%d measured steps x %d)\n",
                f.num_inference_steps, full, steps, f.num_inference_steps);
  }
  std::printf("peak device memory during the loop: %.2f GiB\n", double(peak) / (1 << 30));
  const WanTransformer::CompileStats compiled = dit.compile_stats();
  if (f.compile) {
    std::printf(
        "compile mode: %d graph(s) captured in the warm-up (%.3f s, not timed), %d "
        "forwards replayed, graph memory %.2f GiB\n",
        compiled.graphs, compiled.capture_seconds, compiled.replays,
        double(compiled.graph_memory_bytes) / (1 << 30));
  }
  if (f.autotune) {
    std::printf("GEMM autotuning: %.3f s in the warm-up (one-time, not timed)\n",
                ops::gemm_autotune_seconds());
  }

  if (!f.json.empty()) {
    nlohmann::ordered_json out;
    out["bench"] = "denoise";
    out["weights"] = f.model.empty() ? "random" : f.model;
    out["device"] = device.name();
    out["card"] = card;
    out["latent_shape"] = latent_shape;
    out["scheduler"] = scheduler->name();
    out["guidance_scale"] = f.guidance_scale;
    out["num_inference_steps"] = f.num_inference_steps;
    out["steps_run"] = steps;
    out["transformer_forwards"] = forwards;
    out["step_seconds"] = step_seconds;
    out["seconds"] = total;
    out["seconds_per_step"] = per_step;
    out["median_step_seconds"] = median_step;
    out["total_seconds"] = full;
    out["extrapolated"] = extrapolated;
    if (extrapolated) {
      out["note"] = str_cat("total_seconds = seconds_per_step x ", f.num_inference_steps, " from ",
                            steps, " measured steps");
    }
    out["peak_device_bytes"] = peak;
    out["compile"] = f.compile;
    out["transformer_quant"] =
        checked_transformer_quant(f.transformer_quant, "--transformer-quant");
    out["gemm_autotune"] = f.autotune;
    if (f.autotune) out["gemm_autotune_seconds"] = ops::gemm_autotune_seconds();
    out["layerwise_offload"] = f.layerwise_offload;
    out["max_device_memory"] = *budget_bytes;
    if (f.compile) {
      out["compile_capture_seconds"] = compiled.capture_seconds;
      out["compile_graph_memory_bytes"] = compiled.graph_memory_bytes;
    }
    write_json_results(f.json, out);
  }
  return 0;
}

}  // namespace

Action add_denoise_bench(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "denoise", "The 1.3B denoising loop (CFG, FlowUniPC) at 480x832x81: s/step and total");
  auto f = std::make_shared<BenchDenoiseFlags>();
  cmd->add_option("--model", f->model,
                  "checkpoint folder: time its transformer (default: random 1.3B weights)");
  cmd->add_option("--device", f->device, "cuda (default), cuda:N or cpu");
  cmd->add_option("--height", f->height, "video height (default 480)");
  cmd->add_option("--width", f->width, "video width (default 832)");
  cmd->add_option("--num-frames", f->num_frames, "video frames, 4n+1 (default 81)");
  cmd->add_option("--num-inference-steps", f->num_inference_steps, "schedule length (default 50)");
  cmd->add_option("--steps", f->steps,
                  "run only the first N steps and extrapolate the total (default: all)");
  cmd->add_option("--guidance-scale", f->guidance_scale, "CFG scale (default 5.0)");
  cmd->add_option("--flow-shift", f->flow_shift, "timestep shift (default 3.0, the 1.3B preset)");
  cmd->add_option("--scheduler", f->scheduler,
                  "flow_unipc (default), euler, or checkpoint (the --model's scheduler config)");
  cmd->add_option("--seed", f->seed, "noise and weight seed");
  cmd->add_option("--attention-backend", f->attention_backend,
                  "self-attention backend (default: FASTVIDEO_ATTENTION_BACKEND, else automatic; "
                  "VIDEO_SPARSE_ATTN with --fastwan)");
  cmd->add_flag("--fastwan", f->fastwan,
                "FastWan's 3-step DMD loop at 448x832x61 (random 1.3B weights with VSA gates)");
  cmd->add_option("--VSA-sparsity", f->vsa_sparsity,
                  "with --fastwan: VSA_sparsity in [0, 1) (default: the preset's, 0.8)");
  cmd->add_option("--cfg-batch-tokens", f->cfg_batch_tokens,
                  "batch the two CFG passes up to this many latent tokens (0: never; default: the "
                  "engine's)");
  cmd->add_flag("--compile", f->compile,
                "compile mode: every forward replayed from a CUDA graph captured in the warm-up");
  cmd->add_option("--transformer-quant", f->transformer_quant,
                  "FP8: the transformer blocks' linears in FP8, as transformer_quant (default: "
                  "full precision)");
  cmd->add_flag("--autotune", f->autotune,
                "GEMM autotuning (compile mode max-autotune, ops/gemm_autotune.h): new GEMM "
                "shapes time cuBLASLt's candidates in the warm-up (one-time, reported apart)");
  cmd->add_option("--config", f->config,
                  "random weights of this size: 1.3b (default) or 14b (--model unset)");
  cmd->add_flag("--layerwise-offload", f->layerwise_offload,
                "dit_layerwise_offload: block weights in pinned host memory, streamed to the GPU");
  cmd->add_option("--max-device-memory", f->max_device_memory,
                  "a hard device-memory budget for the run, e.g. 24GiB");
  add_json_option(*cmd, f->json);
  return [cmd, f] {
    // --fastwan times FastWan's preset loop (448x832x61, 3 DMD steps, random weights): the 1.3B
    // loop's settings would be ignored there, so they are refused, and VSA_sparsity is its alone.
    for (const char* name :
         {"--model", "--height", "--width", "--num-frames", "--steps", "--scheduler",
          "--guidance-scale", "--flow-shift", "--autotune", "--layerwise-offload",
          "--max-device-memory", "--cfg-batch-tokens", "--config"}) {
      FV_CHECK(!f->fastwan || cmd->count(name) == 0, "bench denoise: ", name,
               " does not apply with --fastwan (FastWan's own preset loop)");
    }
    FV_CHECK(f->fastwan || cmd->count("--VSA-sparsity") == 0,
             "bench denoise: --VSA-sparsity applies with --fastwan only");
    FV_CHECK(f->cfg_batch_tokens >= -1, "bench denoise: --cfg-batch-tokens ", f->cfg_batch_tokens,
             " is below -1 (-1: the default limit, 0: never batch)");
    // As generate refuses them (QA audit: NaN or -1 ran without CFG, --steps 0 ran all steps, a
    // --config beside --model was ignored).
    FV_CHECK(std::isfinite(f->guidance_scale) && f->guidance_scale >= 0,
             "bench denoise: --guidance-scale ", f->guidance_scale,
             " is not a finite number >= 0 (<= 1: one pass per step)");
    FV_CHECK(cmd->count("--steps") == 0 || f->steps >= 1, "bench denoise: --steps ", f->steps,
             " is not in 1..", f->num_inference_steps);
    FV_CHECK(f->scheduler != "checkpoint" || cmd->count("--model") > 0,
             "bench denoise: --scheduler checkpoint reads a checkpoint's "
             "scheduler/scheduler_config.json; give the checkpoint with --model");
    FV_CHECK(cmd->count("--config") == 0 || cmd->count("--model") == 0,
             "bench denoise: --config (random weights of a size) and --model (a checkpoint's) "
             "both name the weights; give one");
    return run_bench_denoise(*f);
  };
}

}  // namespace fastvideo::bench
