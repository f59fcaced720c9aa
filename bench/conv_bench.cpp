// fastvideo bench conv: the Wan2.1 VAE decoder's convolutions one by one, at the shapes a steady
// chunk of a 480×832 decode runs them (one latent frame in, the causal convs' two cached frames in
// front: wan21.md §2.4), channels-last bf16 through ops::conv3d_ndhwc (our Hopper kernel on an
// H100/H200, else cuDNN), timed with CUDA events, with its bias where the decoder adds it there
// (not the resnets': their norms and residual adds take it); with each shape's count per chunk, so
// the table adds up to the convolutions' share of a decode, and the first call's host time
// (choosing the algorithm). The anchor is tools/bench/torch_conv_anchor.py, the same shapes
// through PyTorch's conv3d, run in the same call.

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_commands.h"
#include "core/torch_random.h"
#include "json_output.h"
#include "ops/channels_last.h"
#include "ops/elementwise.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_context.h"
#include "cuda_timer.h"
#endif

namespace fastvideo::bench {

namespace {

// Input [1, T, H, W, C], weight [O, kt, kh, kw, C]; "same" padding in H and W, none in time (the
// cached frames are in T), so kt − 1 fewer frames come out.
struct ConvShape {
  const char* name;
  int64_t per_chunk;  // calls in one steady chunk of the decode
  int64_t t, h, w, c, o, kt, kh, kw;
  bool bias;  // the resnets' convs leave theirs to the norm or residual add after them
};
constexpr ConvShape kShapes[] = {
    {"conv_in", 1, 3, 60, 104, 16, 384, 3, 3, 3, true},
    {"mid, up0 resnets (384)", 10, 3, 60, 104, 384, 384, 3, 3, 3, false},
    {"up0 time_conv", 1, 3, 60, 104, 384, 768, 3, 1, 1, true},
    {"up0 resample", 1, 2, 120, 208, 384, 192, 1, 3, 3, true},
    {"up1 shortcut 192->384", 1, 2, 120, 208, 192, 384, 1, 1, 1, true},
    {"up1 conv1 192->384", 1, 4, 120, 208, 192, 384, 3, 3, 3, false},
    {"up1 resnets (384)", 5, 4, 120, 208, 384, 384, 3, 3, 3, false},
    {"up1 time_conv", 1, 4, 120, 208, 384, 768, 3, 1, 1, true},
    {"up1 resample", 1, 4, 240, 416, 384, 192, 1, 3, 3, true},
    {"up2 resnets (192)", 6, 6, 240, 416, 192, 192, 3, 3, 3, false},
    {"up2 resample", 1, 4, 480, 832, 192, 96, 1, 3, 3, true},
    {"up3 resnets (96)", 6, 6, 480, 832, 96, 96, 3, 3, 3, false},
    {"conv_out", 1, 6, 480, 832, 96, 3, 3, 3, 3, true},
};

struct ConvBenchFlags {
  std::string json;
  int repeats = 20, warmup = 3;
};

#ifdef FASTVIDEO_HAVE_CUDA

int run_conv_bench(const ConvBenchFlags& f) {
  FV_CHECK(f.repeats >= 1, "bench conv: --repeats must be at least 1, got ", f.repeats);
  FV_CHECK(f.warmup >= 0, "bench conv: --warmup must be at least 0, got ", f.warmup);
  CudaContext& ctx = use_cuda_device(0);
  const Device gpu = Device::cuda(0);
  nlohmann::ordered_json out;
  out["device"] = ctx.info().name;
  out["op"] =
      "ops::conv3d_ndhwc (NDHWC, bf16, fp32 accumulation; our Hopper kernel on sm_90a, else "
      "cuDNN), with the bias where the decoder adds it";
  out["repeats"] = f.repeats;
  std::printf("fastvideo bench conv on %s (bf16 channels-last, median of %d after %d warm-up)\n\n",
              ctx.info().name.c_str(), f.repeats, f.warmup);
  std::printf("%-24s %5s %22s %9s %9s %8s %10s\n", "conv", "count", "input T x H x W x C",
              "first ms", "ms", "TFLOP/s", "ms/chunk");
  double chunk_ms = 0;
  uint64_t seed = 1;
  for (const ConvShape& s : kShapes) {
    const Tensor x = torch_randn({1, s.t, s.h, s.w, s.c}, seed++).to(gpu).to(DType::BF16);
    const Tensor w = ops::scale(torch_randn({s.o, s.kt, s.kh, s.kw, s.c}, seed++),
                                float(1.0 / std::sqrt(double(s.c * s.kt * s.kh * s.kw))))
                         .to(gpu)
                         .to(DType::BF16);
    const Tensor b = s.bias ? torch_randn({s.o}, seed++).to(gpu).to(DType::BF16) : Tensor();
    const ops::Conv3dPadding pad{0, 0, (s.kh - 1) / 2, (s.kw - 1) / 2};
    auto run = [&] { const Tensor y = ops::conv3d_ndhwc(x, w, b, pad); };
    ctx.synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    run();  // the first call of a shape chooses its algorithm (host time, then the run)
    ctx.synchronize();
    const double first_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const double ms = median_gpu_ms(ctx, f.warmup, f.repeats, run);
    const int64_t out_frames = s.t - s.kt + 1;
    const double flop =
        2.0 * double(s.o * s.c * s.kt * s.kh * s.kw) * double(out_frames * s.h * s.w);
    const double tflops = flop / (ms * 1e-3) / 1e12;
    chunk_ms += ms * double(s.per_chunk);
    const std::string dims = str_cat(s.t, " x ", s.h, " x ", s.w, " x ", s.c);
    std::printf("%-24s %5lld %22s %9.2f %9.3f %8.1f %10.3f\n", s.name, (long long)s.per_chunk,
                dims.c_str(), first_ms, ms, tflops, ms * double(s.per_chunk));
    out["shapes"].push_back({{"name", s.name},
                             {"per_chunk", s.per_chunk},
                             {"input_thwc", {s.t, s.h, s.w, s.c}},
                             {"weight_okkkc", {s.o, s.kt, s.kh, s.kw, s.c}},
                             {"bias", s.bias},
                             {"first_call_ms", first_ms},
                             {"median_ms", ms},
                             {"tflops", tflops}});
  }
  out["chunk_ms"] = chunk_ms;
  std::printf(
      "\nconvolutions of one steady chunk: %.3f ms (a 21-latent-frame decode runs 21 chunks)\n",
      chunk_ms);
  std::printf("anchor: python3 tools/bench/torch_conv_anchor.py (F.conv3d, same shapes)\n");
  if (!f.json.empty()) write_json_results(f.json, out);
  return 0;
}

#else

int run_conv_bench(const ConvBenchFlags&) {
  fail("bench conv needs the CUDA backend, which this build does not have");
}

#endif

}  // namespace

Action add_conv_bench(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "conv",
      "the Wan2.1 VAE decoder's convolutions (bf16 channels-last; our Hopper kernel or cuDNN) at "
      "480x832");
  auto f = std::make_shared<ConvBenchFlags>();
  cmd->add_option("--repeats", f->repeats, "timed repeats per shape (median)");
  cmd->add_option("--warmup", f->warmup, "untimed runs per shape before timing");
  add_json_option(*cmd, f->json);
  return [f] { return run_conv_bench(*f); };
}

}  // namespace fastvideo::bench
