// fastvideo bench vae: the full-size Wan2.1 VAE decoder (wan21.md §2.1 config) on the GPU with
// random bf16 weights made in memory, decoding random latents of a 480p, 81-frame video
// ([1,16,21,60,104] by default): median wall time over the repeats after one warm-up, and the
// peak device memory of one decode. The anchor is tools/bench/torch_vae_anchor.py, the same
// decoder in PyTorch, run in the same session on the same card.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "bench_commands.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "models/wan/vae/wan_vae_specs.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_context.h"
#include "core/cuda/device_allocator.h"
#endif

namespace fastvideo::bench {

namespace {

struct BenchVaeFlags {
  std::string json;
  int height = 480, width = 832, num_frames = 81, repeats = 3, seed = 0;
};

#ifndef FASTVIDEO_HAVE_CUDA
int run_bench_vae(const BenchVaeFlags&) {
  fail("bench vae needs the CUDA backend, which this build does not have");
}
#else

// wan21.md §2.1: the real vae/config.json values.
WanVaeConfig wan21_vae_config() {
  WanVaeConfig c;
  c.base_dim = 96;
  c.z_dim = 16;
  c.dim_mult = {1, 2, 4, 4};
  c.num_res_blocks = 2;
  c.temperal_downsample = {false, true, true};
  c.latents_mean = {-0.7571, -0.7089, -0.9113, 0.1075,  -0.1745, 0.9653,  -0.1517, 1.5508,
                    0.4134,  -0.0715, 0.5517,  -0.3632, -0.1922, -0.9497, 0.2503,  -0.2921};
  c.latents_std = {2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                   3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160};
  return c;
}

// Uniform values with standard deviation `std_dev` (timing does not depend on the distribution;
// the scale keeps activations finite).
Tensor random_tensor(const Shape& shape, float std_dev, std::mt19937_64& rng) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::uniform_real_distribution<float> u(-std::sqrt(3.0f) * std_dev, std::sqrt(3.0f) * std_dev);
  for (float& v : t.f32()) v = u(rng);
  return t;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every used decoder tensor, bf16 on `device`: convs ~ 1/√fan_in, norm gains 1.
Weights random_vae_weights(const WanVaeConfig& config, Device device, uint64_t seed,
                           int64_t* bytes) {
  std::mt19937_64 rng(seed);
  Weights w("vae");
  *bytes = 0;
  for (const TensorSpec& spec : wan_vae_specs(config)) {
    if (!spec.used) continue;
    const double fan_in =
        spec.shape.size() > 1 ? double(shape_numel(spec.shape)) / double(spec.shape[0]) : 1.0;
    Tensor t;
    if (ends_with(spec.name, ".gamma")) {
      t = Tensor::full(spec.shape, 1.0f);
    } else if (ends_with(spec.name, ".bias")) {
      t = random_tensor(spec.shape, 0.05f, rng);
    } else {
      t = random_tensor(spec.shape, float(1.0 / std::sqrt(fan_in)), rng);
    }
    Tensor on_device = t.to(device).to(DType::BF16);
    *bytes += int64_t(on_device.nbytes());
    w.insert(spec.name, on_device);
  }
  return w;
}

int run_bench_vae(const BenchVaeFlags& f) {
  FV_CHECK(f.height % 8 == 0 && f.width % 8 == 0 && f.num_frames % 4 == 1 && f.repeats >= 1,
           "bench vae: --height and --width must be multiples of 8, --num-frames 4n+1 and "
           "--repeats at least 1");
  const Device gpu = Device::cuda(0);
  CudaContext& ctx = use_cuda_device(0);
  const WanVaeConfig config = wan21_vae_config();
  int64_t weight_bytes = 0;
  const WanVaeDecoder decoder(config,
                              random_vae_weights(config, gpu, uint64_t(f.seed), &weight_bytes));

  const Shape latent_shape{1, config.z_dim, (f.num_frames - 1) / 4 + 1, f.height / 8, f.width / 8};
  std::mt19937_64 rng(uint64_t(f.seed) + 1);
  const Tensor latents = random_tensor(latent_shape, 1.0f, rng).to(gpu).to(DType::BF16);
  std::printf("fastvideo bench vae on %s: latents %s -> video ", ctx.info().name.c_str(),
              shape_str(latent_shape).c_str());
  std::fflush(stdout);

  using Clock = std::chrono::steady_clock;
  auto timed_decode = [&] {
    ctx.synchronize();
    const auto t0 = Clock::now();
    Tensor video = decoder.decode(latents);
    ctx.synchronize();
    return std::make_pair(std::chrono::duration<double>(Clock::now() - t0).count(), video.shape());
  };
  const auto [warmup_s, video_shape] = timed_decode();
  std::printf("%s\n", shape_str(video_shape).c_str());
  DeviceAllocator& allocator = DeviceAllocator::get(0);
  allocator.reset_peak();
  std::vector<double> seconds;
  for (int i = 0; i < f.repeats; ++i) seconds.push_back(timed_decode().first);
  const int64_t peak = allocator.stats().peak;
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];

  std::printf("%-28s %10.3f s\n", "warm-up decode", warmup_s);
  std::printf("%-28s %10.3f s (median of %d)\n", "decode", median, f.repeats);
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
    out["peak_device_bytes"] = peak;
    out["weight_bytes"] = weight_bytes;
    std::ofstream(f.json) << out.dump(2) << "\n";
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
  cmd->add_option("--json", f->json, "write results as JSON");
  return [f] { return run_bench_vae(*f); };
}

}  // namespace fastvideo::bench
