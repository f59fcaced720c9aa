// fastvideo bench cpu: per-stage times of a tiny-model generation, and one DiT forward's achieved
// GFLOP/s next to the OpenBLAS GEMM rate measured in the same run (the anchor).
// The other benchmarks (gemm, vae, ...) live in <name>_bench.cpp.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "bench_commands.h"
#include "core/parallel.h"
#include "core/torch_random.h"
#include "dit_flops.h"
#include "fastvideo/video_generator.h"
#include "io/checkpoint.h"
#include "json_output.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/wan_geometry.h"
#include "ops/cpu/sgemm.h"
#include "pipeline/wan_checkpoint.h"
#include "random_checkpoint/random_checkpoint.h"

namespace fastvideo::bench {

namespace {

using Clock = std::chrono::steady_clock;

template <class Fn>
double median_seconds(int repeats, Fn&& fn) {
  fn();  // warm-up
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    auto t0 = Clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

double sgemm_gflops(int m, int n, int k, int repeats) {
  std::vector<float> a(size_t(m) * k, 0.5f), b(size_t(k) * n, 0.25f), c(size_t(m) * n);
  const double s = median_seconds(repeats, [&] {
    ops::sgemm(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c.data(), n);
  });
  return 2.0 * m * n * k / s / 1e9;
}

struct BenchFlags {
  std::string model, json;
  int height = 128, width = 128, num_frames = 17, repeats = 3;
};

int run_bench(const BenchFlags& f) {
  FV_CHECK(f.repeats >= 1, "bench cpu: --repeats must be at least 1, got ", f.repeats);
  nlohmann::ordered_json out;
  out["threads"] = num_threads();
  std::printf("fastvideo bench cpu (%d threads)\n\n", num_threads());

  const std::filesystem::path model =
      f.model.empty() ? ensure_default_tiny_model() : std::filesystem::path(f.model);
  auto checkpoint = open_wan_checkpoint(model);
  auto config = WanTransformerConfig::from_checkpoint(checkpoint);

  // 1. Stage times of a full generation at the model's preset.
  auto t0 = Clock::now();
  GeneratorOptions on_cpu;  // this benchmark times the CPU backend, GPU or not
  on_cpu.device = "cpu";
  auto generator = VideoGenerator::from_pretrained(model, on_cpu);
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  GenerationRequest request;
  request.prompt = "A red fox runs through fresh snow at dawn.";
  GenerationResult result = generator.generate(request);
  std::printf("%-18s %10s %12s\n", "stage", "seconds", "peak RSS MiB");
  std::printf("%-18s %10.3f %12s\n", "load", load_s, "");
  out["stages"].push_back({{"name", "load"}, {"seconds", load_s}});
  for (auto& s : result.stages) {
    std::printf("%-18s %10.3f %12.1f\n", s.name.c_str(), s.seconds,
                double(s.peak_bytes) / (1 << 20));
    out["stages"].push_back(
        {{"name", s.name}, {"seconds", s.seconds}, {"peak_bytes", s.peak_bytes}});
  }

  // 2. One DiT forward at a larger size, against the GEMM anchor of the same run.
  WanTransformer dit(config,
                     load_component(checkpoint.path("transformer"), wan_transformer_specs(config)));
  const WanGeometry geometry(WanVaeConfig::from_checkpoint(checkpoint), config);
  const std::string bad_size = geometry.invalid_size(f.num_frames, f.height, f.width);
  FV_CHECK(bad_size.empty(), "bench cpu: ", bad_size);
  const Shape latent_shape = geometry.latent_shape(f.num_frames, f.height, f.width);
  Tensor latents = torch_randn(latent_shape, 7);
  Tensor context = torch_randn({1, WanGeometry::kTextLength, config.text_dim}, 8);
  auto text = dit.prepare_text(context);
  const double ts[] = {500.0};
  const double forward_s = median_seconds(f.repeats, [&] { dit.forward(latents, ts, text); });
  const double tokens = double(geometry.tokens(f.num_frames, f.height, f.width));
  const double flops = config.num_layers * dit_block_flop(config, tokens);
  const double dit_gflops = flops / forward_s / 1e9;
  const int S = int(tokens), D = config.inner_dim();
  const double gemm_qkv = sgemm_gflops(S, D, D, f.repeats);
  const double gemm_ffn = sgemm_gflops(S, config.ffn_dim, D, f.repeats);
  const double gemm_big = sgemm_gflops(1024, 1024, 1024, f.repeats);
  std::printf("\nDiT forward, latents %s (%d tokens): %.3f s, %.2f GFLOP, %.1f GFLOP/s\n",
              shape_str(latent_shape).c_str(), S, forward_s, flops / 1e9, dit_gflops);
  std::printf("%-34s %10s %8s\n", "anchor: OpenBLAS sgemm (same run)", "GFLOP/s", "DiT/it");
  std::printf("%-34s %10.1f %8.2f\n", str_cat(S, "x", D, "x", D, " (attn proj)").c_str(), gemm_qkv,
              dit_gflops / gemm_qkv);
  std::printf("%-34s %10.1f %8.2f\n", str_cat(S, "x", config.ffn_dim, "x", D, " (FFN up)").c_str(),
              gemm_ffn, dit_gflops / gemm_ffn);
  std::printf("%-34s %10.1f %8.2f\n", "1024x1024x1024", gemm_big, dit_gflops / gemm_big);
  out["dit_forward"] = {{"latent_shape", latent_shape},
                        {"tokens", S},
                        {"seconds", forward_s},
                        {"gflop", flops / 1e9},
                        {"gflops", dit_gflops}};
  out["sgemm_gflops"] = {{"attn_proj", gemm_qkv}, {"ffn_up", gemm_ffn}, {"square_1024", gemm_big}};
  if (!f.json.empty()) {
    write_json_results(f.json, out);
  }
  return 0;
}

}  // namespace

Action add_cpu_bench(CLI::App& bench) {
  auto* cpu =
      bench.add_subcommand("cpu", "Stage times of the tiny model and DiT GFLOP/s vs OpenBLAS GEMM");
  auto f = std::make_shared<BenchFlags>();
  cpu->add_option("--model", f->model, "checkpoint folder (default: the tiny model)");
  cpu->add_option("--height", f->height, "DiT forward height");
  cpu->add_option("--width", f->width, "DiT forward width");
  cpu->add_option("--num-frames", f->num_frames, "DiT forward frames (4n+1)");
  cpu->add_option("--repeats", f->repeats, "timed repeats (median)");
  add_json_option(*cpu, f->json);
  return [f] { return run_bench(*f); };
}

}  // namespace fastvideo::bench
