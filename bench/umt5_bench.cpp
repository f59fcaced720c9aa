// fastvideo bench umt5: the UMT5-XXL text encoder (wan21.md §3.1 config, §3.2 forward) on a
// 512-token prompt, with random weights made in device memory or a checkpoint's text encoder,
// in the pipeline's dtype (bf16 on a GPU, f32 on the CPU): the median of synchronised runs after
// warm-up. tools/bench/torch_umt5_anchor.py is the PyTorch anchor for the same shapes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "bench_commands.h"
#include "core/compute_device.h"
#include "io/checkpoint.h"
#include "json_output.h"
#include "models/umt5/umt5_encoder.h"
#include "models/wan/wan_geometry.h"
#include "pipeline/wan_checkpoint.h"
#include "random_checkpoint/checkpoint_plan.h"
#include "random_checkpoint/random_weights.h"
#include "sample_stats.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_context.h"
#endif

namespace fastvideo::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct BenchUmt5Flags {
  std::string model, device = "cuda", json;
  int tokens = WanGeometry::kTextLength, warmup = 2, repeats = 5;
  uint64_t seed = 0;
  bool compile = false;
};

// wan21.md §3.2, multiply-adds as 2 FLOPs: q, k, v, o projections, QKᵀ and PV, the gated FFN.
double umt5_flop(const Umt5Config& c, double n) {
  const double d = c.d_model, inner = c.inner_dim(), ff = c.d_ff;
  return c.num_layers * (8 * n * d * inner + 4 * n * n * inner + 6 * n * d * ff);
}

int run_bench_umt5(const BenchUmt5Flags& f) {
  FV_CHECK(f.repeats >= 5, "bench umt5: --repeats ", f.repeats, " is below 5");
  FV_CHECK(f.warmup >= 0, "bench umt5: --warmup must be at least 0, got ", f.warmup);
  FV_CHECK(f.tokens >= 1 && f.tokens <= WanGeometry::kTextLength, "bench umt5: --tokens ", f.tokens,
           " is not in 1..", WanGeometry::kTextLength, " (the pipeline's max_sequence_length)");
  const Device device = parse_compute_device(f.device);
  FV_CHECK(!f.compile || !device.is_cpu(),
           "bench umt5: --compile captures CUDA graphs; the device is cpu (use --device cuda)");
  const DType dtype = device.is_cpu() ? DType::F32 : DType::BF16;  // the pipeline's default
  std::string card = "cpu";
#ifdef FASTVIDEO_HAVE_CUDA
  if (!device.is_cpu()) card = use_cuda_device(device.index).info().name;
#endif

  std::optional<CheckpointFolder> checkpoint;
  Umt5Config config;
  if (f.model.empty()) {
    const auto plan = plan_checkpoint(wan_model_preset("1.3b"), dtype);
    const auto& te = *std::find_if(plan.begin(), plan.end(), [](const ComponentPlan& c) {
      return c.folder == "text_encoder";
    });
    config = Umt5Config::from_json(
        JsonFile(nlohmann::json::parse(te.config.dump()), "built-in UMT5-XXL config"));
  } else {
    checkpoint = open_wan_checkpoint(f.model);
    config = Umt5Config::from_checkpoint(*checkpoint);
  }
  std::printf("fastvideo bench umt5: %s, %d layers, d_model %d, %s weights (%s), on %s (%s)\n",
              f.model.empty() ? "UMT5-XXL" : f.model.c_str(), config.num_layers, config.d_model,
              f.model.empty() ? "random" : "checkpoint", std::string(dtype_name(dtype)).c_str(),
              device.name().c_str(), card.c_str());
  std::fflush(stdout);
  const std::vector<TensorSpec> specs = umt5_encoder_specs(config);
  const auto t_load = Clock::now();
  Weights weights("text_encoder");
  if (checkpoint) {
    weights = load_component(checkpoint->path("text_encoder"), specs, dtype, device);
  } else {
    for (const TensorSpec& spec : specs) {
      weights.insert(spec.name, random_weight(spec, f.seed, dtype, device));
    }
  }
  int64_t weight_bytes = 0;
  for (const auto& [name, t] : weights.all()) weight_bytes += int64_t(t.nbytes());
  Umt5Encoder encoder(config, std::move(weights));
  synchronize_device(device);
  const double setup_s = std::chrono::duration<double>(Clock::now() - t_load).count();

  // A full prompt: 511 ids the tiny tokenizer can produce (2..383, valid rows of any vocab),
  // then EOS; the pipeline runs the encoder on the real tokens only (§3.3).
  std::vector<int32_t> ids;
  for (int i = 0; i + 1 < f.tokens; ++i)
    ids.push_back(2 + int32_t((uint64_t(i) * 2654435761u) % 382));
  ids.push_back(1);

  auto timed = [&] {
    synchronize_device(device);
    const auto t0 = Clock::now();
    Tensor out = encoder.encode(ids);
    synchronize_device(device);
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  for (int i = 0; i < f.warmup; ++i) timed();
  reset_device_peak(device);
  std::vector<double> seconds;
  for (int i = 0; i < f.repeats; ++i) seconds.push_back(timed());
  const int64_t peak = device_peak_bytes(device);
  const SampleStats eager = sample_stats(seconds);
  const double median = eager.median;
  const double flop = umt5_flop(config, double(ids.size()));

  std::printf("weights %.2f GiB made/loaded in %.1f s\n", double(weight_bytes) / (1 << 30),
              setup_s);
  std::printf("encode %zu tokens: median %.4f s of %d (min %.4f, max %.4f) after %d warm-up\n",
              ids.size(), median, f.repeats, eager.min, eager.max, f.warmup);
  std::printf("%.2f TFLOP (wan21.md 3.2) -> %.1f TFLOP/s; peak device memory %.2f GiB\n",
              flop / 1e12, flop / median / 1e12, double(peak) / (1 << 30));

  // Compile mode: the first encode captures (one-time, reported apart), the rest replay.
  std::vector<double> compiled_seconds;
  if (f.compile) {
    encoder.enable_compile();
    for (int i = 0; i < std::max(f.warmup, 1); ++i) timed();
    for (int i = 0; i < f.repeats; ++i) compiled_seconds.push_back(timed());
    const SampleStats c = sample_stats(compiled_seconds);
    const Umt5Encoder::CompileStats stats = encoder.compile_stats();
    std::printf(
        "compile mode (CUDA graph): median %.4f s of %d (min %.4f, max %.4f) -> %.1f TFLOP/s, "
        "%.3fx eager; one-time capture %.3f s (not timed), graph memory %.1f MiB\n",
        c.median, f.repeats, c.min, c.max, flop / c.median / 1e12, median / c.median,
        stats.capture_seconds, double(stats.graph_memory_bytes) / (1 << 20));
  }

  if (!f.json.empty()) {
    nlohmann::ordered_json out;
    out["bench"] = "umt5";
    out["weights"] = f.model.empty() ? "random" : f.model;
    out["device"] = device.name();
    out["card"] = card;
    out["dtype"] = std::string(dtype_name(dtype));
    out["tokens"] = ids.size();
    out["layers"] = config.num_layers;
    out["warmup"] = f.warmup;
    out["seconds"] = seconds;
    out["median_seconds"] = median;
    out["tflop"] = flop / 1e12;
    out["tflops"] = flop / median / 1e12;
    out["weight_bytes"] = weight_bytes;
    out["peak_device_bytes"] = peak;
    if (f.compile) {
      out["compile_seconds"] = compiled_seconds;
      out["compile_median_seconds"] = sample_stats(compiled_seconds).median;
      out["capture_seconds"] = encoder.compile_stats().capture_seconds;
    }
    write_json_results(f.json, out);
  }
  return 0;
}

}  // namespace

Action add_umt5_bench(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "umt5", "UMT5-XXL text encoder on a 512-token prompt (bf16 on a GPU): seconds, TFLOP/s");
  auto f = std::make_shared<BenchUmt5Flags>();
  cmd->add_option("--model", f->model,
                  "checkpoint folder: time its text encoder (default: random UMT5-XXL weights)");
  cmd->add_option("--device", f->device, "cuda (default), cuda:N or cpu");
  cmd->add_option("--tokens", f->tokens, "prompt length, EOS included (default 512)");
  cmd->add_option("--warmup", f->warmup, "untimed runs first");
  cmd->add_option("--repeats", f->repeats, "timed runs (median; at least 5)");
  cmd->add_option("--seed", f->seed, "random weight seed");
  add_json_option(*cmd, f->json);
  cmd->add_flag("--compile", f->compile,
                "then time compile mode (compile.text_encoder_enabled: the layers replayed from a "
                "CUDA graph) on the same weights; its one-time capture is reported apart");
  return [f] { return run_bench_umt5(*f); };
}

}  // namespace fastvideo::bench
