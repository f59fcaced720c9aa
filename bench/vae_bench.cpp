// fastvideo bench vae: the full-size Wan2.1 VAE decoder (wan21.md §2.1 config) on the GPU with
// random bf16 weights made in memory, decoding random latents of a 480p, 81-frame video
// ([1,16,21,60,104] by default): median wall time over the repeats after one warm-up, and the
// peak device memory of one decode. The anchor is tools/bench/torch_vae_anchor.py, the same
// decoder in PyTorch, run in the same session on the same card. --compile: the decoder's compile
// mode (compile.vae_enabled), whose chunk graph is captured in every decode: that capture is timed
// apart and also shown taken out of the decode's time.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "bench_commands.h"
#include "core/torch_random.h"
#include "json_output.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "models/wan/vae/wan_vae_specs.h"
#include "models/wan/wan_geometry.h"
#include "models/wan/wan_presets.h"
#include "random_checkpoint/random_weights.h"
#include "random_checkpoint/wan_checkpoint_configs.h"
#include "sample_stats.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_context.h"
#include "core/cuda/device_allocator.h"
#endif

namespace fastvideo::bench {

namespace {

struct BenchVaeFlags {
  std::string json;
  int height = 480, width = 832, num_frames = 81, repeats = 3, seed = 0;
  bool compile = false;
};

#ifndef FASTVIDEO_HAVE_CUDA
int run_bench_vae(const BenchVaeFlags&) {
  fail("bench vae needs the CUDA backend, which this build does not have");
}
#else

// Every used decoder tensor, bf16 on `device`, scaled as the random checkpoints are.
Weights random_vae_weights(const WanVaeConfig& config, Device device, uint64_t seed,
                           int64_t* bytes) {
  Weights w("vae");
  *bytes = 0;
  for (const TensorSpec& spec : wan_vae_specs(config)) {
    if (!spec.used) continue;
    Tensor t = random_weight(spec, seed, DType::BF16, device);
    *bytes += int64_t(t.nbytes());
    w.insert(spec.name, t);
  }
  return w;
}

int run_bench_vae(const BenchVaeFlags& f) {
  FV_CHECK(f.repeats >= 1, "bench vae: --repeats must be at least 1");
  const Device gpu = Device::cuda(0);
  CudaContext& ctx = use_cuda_device(0);
  // wan21.md §2.1: the real vae/config.json.
  const WanVaeConfig config = WanVaeConfig::from_json(
      JsonFile(nlohmann::json::parse(wan_vae_config_json(wan_model_preset("1.3b")).dump()),
               "built-in Wan2.1 VAE config"));
  int64_t weight_bytes = 0;
  WanVaeDecoder decoder(config, random_vae_weights(config, gpu, uint64_t(f.seed), &weight_bytes));
  if (f.compile) decoder.enable_compile();

  // The latents of a video the 1.3B model generates.
  const WanGeometry geometry(config, wan_transformer_config(wan_model_preset("1.3b")));
  const std::string bad_size = geometry.invalid_size(f.num_frames, f.height, f.width);
  FV_CHECK(bad_size.empty(), "bench vae: ", bad_size);
  const Shape latent_shape = geometry.latent_shape(f.num_frames, f.height, f.width);
  const Tensor latents = torch_randn(latent_shape, uint64_t(f.seed) + 1).to(gpu).to(DType::BF16);
  std::printf("fastvideo bench vae on %s: latents %s -> video ", ctx.info().name.c_str(),
              shape_str(latent_shape).c_str());
  std::fflush(stdout);

  using Clock = std::chrono::steady_clock;
  double capture_s = 0;  // the last decode's graph capture (compile mode)
  auto timed_decode = [&] {
    ctx.synchronize();
    const double captured_before = decoder.compile_stats().capture_seconds;
    const auto t0 = Clock::now();
    Tensor video = decoder.decode(latents);
    ctx.synchronize();
    capture_s = decoder.compile_stats().capture_seconds - captured_before;
    return std::make_pair(std::chrono::duration<double>(Clock::now() - t0).count(), video.shape());
  };
  const auto [warmup_s, video_shape] = timed_decode();
  std::printf("%s\n", shape_str(video_shape).c_str());
  DeviceAllocator& allocator = DeviceAllocator::get(0);
  allocator.reset_peak();
  std::vector<double> seconds, captures;
  for (int i = 0; i < f.repeats; ++i) {
    seconds.push_back(timed_decode().first);
    captures.push_back(capture_s);
  }
  const int64_t peak = allocator.stats().peak;
  auto median_of = [](std::vector<double> v) { return sample_stats(std::move(v)).median; };
  const double median = median_of(seconds);
  std::vector<double> without_capture;
  for (size_t i = 0; i < seconds.size(); ++i) without_capture.push_back(seconds[i] - captures[i]);

  std::printf("%-28s %10.3f s\n", "warm-up decode", warmup_s);
  std::printf("%-28s %10.3f s (median of %d)%s\n", "decode", median, f.repeats,
              f.compile ? ", compile mode" : "");
  if (f.compile) {
    const CompileStats stats = decoder.compile_stats();
    std::printf("%-28s %10.3f s (median; %d graphs captured, %d chunks replayed in all)\n",
                "  of which capture", median_of(captures), stats.graphs, stats.replays);
    std::printf("%-28s %10.3f s (median)\n", "decode without capture", median_of(without_capture));
  }
  std::printf("%-28s %10.1f MiB\n", "peak device memory", double(peak) / (1 << 20));
  std::printf("%-28s %10.1f MiB\n", "  of which weights", double(weight_bytes) / (1 << 20));
  if (!f.json.empty()) {
    nlohmann::ordered_json out;
    out["engine"] = "fastvideo";
    out["device"] = ctx.info().name;
    out["dtype"] = "bf16";
    out["latent_shape"] = latent_shape;
    out["video_shape"] = video_shape;
    out["warmup_seconds"] = warmup_s;
    out["seconds"] = seconds;
    out["seconds_median"] = median;
    out["compile"] = f.compile;
    if (f.compile) {
      out["capture_seconds"] = captures;
      out["seconds_without_capture_median"] = median_of(without_capture);
    }
    out["peak_device_bytes"] = peak;
    out["weight_bytes"] = weight_bytes;
    write_json_results(f.json, out);
  }
  return 0;
}
#endif

}  // namespace

Action add_vae_bench(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "vae", "Full-size Wan2.1 VAE decode on the GPU (random bf16 weights): time and peak memory");
  auto f = std::make_shared<BenchVaeFlags>();
  cmd->add_option("--height", f->height, "video height (latents are /8)");
  cmd->add_option("--width", f->width, "video width (latents are /8)");
  cmd->add_option("--num-frames", f->num_frames, "video frames, 4n+1 (latents: n+1)");
  cmd->add_option("--repeats", f->repeats, "timed decodes after one warm-up (median)");
  cmd->add_option("--seed", f->seed, "seed of the random weights and latents");
  add_json_option(*cmd, f->json);
  cmd->add_flag("--compile", f->compile,
                "compile mode (compile.vae_enabled): chunks replayed from a graph captured in each "
                "decode");
  return [f] { return run_bench_vae(*f); };
}

}  // namespace fastvideo::bench
