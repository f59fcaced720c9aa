// fastvideo bench gemm: our CUDA linear (cuBLASLt, bf16, bias and GELU fused) on the Wan2.1-1.3B
// DiT's GEMM shapes at 480p, timed with CUDA events. Its anchor, PyTorch's F.linear on the same
// shapes, comes from tools/bench/torch_gemm_anchor.py run on the same machine. Then the FP8 FFN's
// up projection at the 1.3B and 14B shapes: the two-step path (cuBLASLt's FP8 GEMM with GELU, then
// the group quantizer) against ops::fp8_linear_gelu_groups, which on Hopper writes the groups
// itself, same run. Last, the FP8 linears with bias on inputs already quantized, as the engine's
// producers hand them over: row scales (outer vectors) against 128-wide scales (fp8_block_linear)
// at the projections' and the FFN down's shapes, which says whether the DiT's other FP8 linears
// would gain from 128-wide scales as its FFN down did; and each bf16 and row-scaled linear also
// without its bias, which says what the bias epilogue costs (a bias a consumer could add as it
// reads the product, as RMSNorm + RoPE does for q and k). Then q, k and v as one GEMM.

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "bench_commands.h"
#include "core/parallel.h"
#include "json_output.h"
#include "ops/fp8_linear.h"
#include "ops/linear.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_context.h"
#include "cuda_timer.h"
#include "ops/cuda/fp8_gelu_groups_hopper.h"
#endif

namespace fastvideo::bench {

namespace {

// y[M, N] = x[M, K]·Wᵀ + b. wan21.md §1.8: 480p (832×480, 81 frames) is 21×30×52 = 32760 tokens;
// the 512 text tokens go through the cross-attention K/V projections once per prompt.
struct GemmShape {
  const char* name;
  int64_t m, n, k;
  bool gelu;
};
constexpr GemmShape kShapes[] = {
    {"self/cross-attn q, k, v, o", 32760, 1536, 1536, false},
    {"ffn up + gelu", 32760, 8960, 1536, true},
    {"ffn down", 32760, 1536, 8960, false},
    {"cross-attn text k, v", 512, 1536, 1536, false},
    {"square 8192", 8192, 8192, 8192, false},
};

struct GemmBenchFlags {
  std::string json;
  int repeats = 50;
  int warmup = 5;
};

#ifdef FASTVIDEO_HAVE_CUDA

// Pseudo-random bf16 values in [-scale, scale) on the GPU. Not zeros: the tensor cores draw less
// power (and clock higher) on zeros, which would flatter the timing.
Tensor random_on_gpu(const Shape& shape, float scale, uint64_t seed) {
  Tensor host = Tensor::empty(shape, DType::F32);
  float* p = host.data<float>();
  parallel_for(host.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      uint64_t z = seed * 0x9e3779b97f4a7c15ull + uint64_t(i) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 31)) * 0x94d049bb133111ebull;
      z ^= z >> 29;
      p[i] = scale * (float(z >> 40) / float(1ull << 23) - 1.0f);
    }
  });
  return host.to(DType::BF16).to(Device::cuda(0));
}

// "M x N x K", as the tables print a shape.
std::string dims_of(const GemmShape& s) { return str_cat(s.m, " x ", s.n, " x ", s.k); }

// A table row's JSON record, starting with its name and shape; the caller adds its timings.
nlohmann::ordered_json shape_record(const std::string& name, const GemmShape& s) {
  return {{"name", name}, {"m", s.m}, {"n", s.n}, {"k", s.k}};
}

// A timing that only some rows have: null where it was not measured.
nlohmann::ordered_json ms_or_null(bool measured, double ms) {
  return measured ? nlohmann::ordered_json(ms) : nlohmann::ordered_json(nullptr);
}

// The FP8 linear with bias, the GEMM alone: the input quantized per row (fp8_linear) against in
// 128-wide groups with its rows padded to 16 as the engine's producers write them
// (fp8_block_linear), the weight per output channel against in 128×128 blocks.
void fp8_scales_table(CudaContext& ctx, const GemmBenchFlags& f, uint64_t& seed,
                      nlohmann::ordered_json& out) {
  constexpr GemmShape kShapes[] = {{"1.3B q, k, v, o, fp8", 32760, 1536, 1536, false},
                                   {"1.3B ffn down, fp8", 32760, 1536, 8960, false},
                                   {"14B q, k, v, o, fp8", 75600, 5120, 5120, false},
                                   {"14B ffn down, fp8", 75600, 5120, 13824, false}};
  std::printf("\n%-28s %22s %10s %10s %10s %9s\n", "shape (+ bias)", "M x N x K", "rows ms",
              "no bias", "128-wide", "rows/128");
  for (const GemmShape& s : kShapes) {
    const Tensor x = random_on_gpu({(s.m + 15) / 16 * 16, s.k}, 1.0f, seed++);
    const Tensor w = random_on_gpu({s.n, s.k}, float(1.0 / std::sqrt(double(s.k))), seed++);
    const Tensor b = random_on_gpu({s.n}, 0.5f, seed++);
    const ops::Fp8Rows x_rows = ops::quantize_rows_fp8(x.slice(0, 0, s.m));
    const ops::Fp8Rows w_rows = ops::quantize_rows_fp8(w);
    const double rows_ms = median_gpu_ms(ctx, f.warmup, f.repeats, [&] {
      const Tensor y = ops::fp8_linear(x_rows, DType::BF16, w_rows, b);
    });
    const double unbiased_ms = median_gpu_ms(ctx, f.warmup, f.repeats, [&] {
      const Tensor y = ops::fp8_linear(x_rows, DType::BF16, w_rows, Tensor());
    });
    const bool blocks = ops::fp8_blocks_supported(Device::cuda(0), s.n, s.k);
    double groups_ms = 0;
    if (blocks) {
      const ops::Fp8Groups x_groups = ops::quantize_groups_fp8(x);
      const ops::Fp8Blocks w_blocks = ops::quantize_blocks_fp8(w);
      groups_ms = median_gpu_ms(ctx, f.warmup, f.repeats, [&] {
        const Tensor y = ops::fp8_block_linear(x_groups, s.m, w_blocks, b);
      });
    }
    const std::string dims = dims_of(s);
    if (blocks) {
      std::printf("%-28s %22s %10.3f %10.3f %10.3f %8.2fx\n", s.name, dims.c_str(), rows_ms,
                  unbiased_ms, groups_ms, rows_ms / groups_ms);
    } else {
      std::printf("%-28s %22s %10.3f %10.3f %10s   (no 128-wide plan here)\n", s.name, dims.c_str(),
                  rows_ms, unbiased_ms, "-");
    }
    nlohmann::ordered_json row = shape_record(s.name, s);
    row["row_scales_median_ms"] = rows_ms;
    row["row_scales_no_bias_median_ms"] = unbiased_ms;
    row["block_scales_median_ms"] = ms_or_null(blocks, groups_ms);
    out["fp8_scales"].push_back(row);
  }
}

// Self-attention's q, k and v projections read the same rows: three GEMMs of N = D against one of
// N = 3·D over the three weights stacked (bf16, and FP8 with row scales), with bias. Says whether
// stacking them at load would pay.
void fused_projections_table(CudaContext& ctx, const GemmBenchFlags& f, uint64_t& seed,
                             nlohmann::ordered_json& out) {
  constexpr GemmShape kShapes[] = {{"1.3B q, k, v", 32760, 1536, 1536, false},
                                   {"14B q, k, v", 75600, 5120, 5120, false}};
  std::printf("\n%-28s %22s %10s %10s %9s\n", "shape (+ bias)", "M x N x K", "3 GEMMs ms",
              "1 GEMM ms", "3/1");
  for (const GemmShape& s : kShapes) {
    const Tensor x = random_on_gpu({s.m, s.k}, 1.0f, seed++);
    const Tensor w = random_on_gpu({3 * s.n, s.k}, float(1.0 / std::sqrt(double(s.k))), seed++);
    const Tensor b = random_on_gpu({3 * s.n}, 0.5f, seed++);
    const ops::Fp8Rows x_rows = ops::quantize_rows_fp8(x);
    const ops::Fp8Rows w_rows = ops::quantize_rows_fp8(w);
    for (const bool fp8 : {false, true}) {
      const auto project = [&](int64_t begin, int64_t count) {
        const Tensor bias = b.slice(0, begin, begin + count);
        if (!fp8) return ops::linear(x, w.slice(0, begin, begin + count), bias);
        const ops::Fp8Rows part{w_rows.values.slice(0, begin, begin + count),
                                w_rows.scales.slice(0, begin, begin + count)};
        return ops::fp8_linear(x_rows, DType::BF16, part, bias);
      };
      const double three = median_gpu_ms(ctx, f.warmup, f.repeats, [&] {
        for (int i = 0; i < 3; ++i) const Tensor y = project(i * s.n, s.n);
      });
      const double one =
          median_gpu_ms(ctx, f.warmup, f.repeats, [&] { const Tensor y = project(0, 3 * s.n); });
      const std::string name = str_cat(s.name, fp8 ? ", fp8" : ", bf16");
      const std::string dims = str_cat(s.m, " x 3·", s.n, " x ", s.k);
      std::printf("%-28s %22s %10.3f %10.3f %8.2fx\n", name.c_str(), dims.c_str(), three, one,
                  three / one);
      nlohmann::ordered_json row = shape_record(name, s);
      row["three_gemms_median_ms"] = three;
      row["one_gemm_median_ms"] = one;
      out["fused_projections"].push_back(row);
    }
  }
}

int run_gemm_bench(const GemmBenchFlags& f) {
  FV_CHECK(f.repeats >= 20, "bench gemm: --repeats must be at least 20, got ", f.repeats);
  FV_CHECK(f.warmup >= 0, "bench gemm: --warmup must be at least 0, got ", f.warmup);
  CudaContext& ctx = use_cuda_device(0);
  nlohmann::ordered_json out;
  out["device"] = ctx.info().name;
  out["op"] = "fastvideo ops::linear / ops::linear_gelu (cuBLASLt, bias and GELU epilogue)";
  out["dtype"] = "bf16";
  out["repeats"] = f.repeats;
  out["warmup"] = f.warmup;
  std::printf("fastvideo bench gemm on %s (bf16, fp32 accumulation, median of %d)\n\n",
              ctx.info().name.c_str(), f.repeats);
  std::printf("%-28s %22s %10s %9s %10s\n", "shape", "M x N x K", "ms", "TFLOP/s", "no bias");
  uint64_t seed = 1;
  for (const GemmShape& s : kShapes) {
    Tensor x = random_on_gpu({s.m, s.k}, 1.0f, seed++);
    Tensor w = random_on_gpu({s.n, s.k}, float(1.0 / std::sqrt(double(s.k))), seed++);
    Tensor b = random_on_gpu({s.n}, 0.5f, seed++);
    const double ms = median_gpu_ms(ctx, f.warmup, f.repeats, [&] {
      const Tensor y = s.gelu ? ops::linear_gelu(x, w, b) : ops::linear(x, w, b);
    });
    // What the bias epilogue costs, where no GELU comes with it.
    const double unbiased_ms = s.gelu ? 0.0 : median_gpu_ms(ctx, f.warmup, f.repeats, [&] {
      const Tensor y = ops::linear(x, w, Tensor());
    });
    const double tflops = 2.0 * double(s.m) * double(s.n) * double(s.k) / (ms * 1e-3) / 1e12;
    const std::string unbiased = s.gelu ? "-" : str_cat(std::round(unbiased_ms * 1e3) / 1e3);
    std::printf("%-28s %22s %10.3f %9.1f %10s\n", s.name, dims_of(s).c_str(), ms, tflops,
                unbiased.c_str());
    nlohmann::ordered_json row = shape_record(s.name, s);
    row["bias"] = true;
    row["gelu"] = s.gelu;
    row["median_ms"] = ms;
    row["no_bias_median_ms"] = ms_or_null(!s.gelu, unbiased_ms);
    row["tflops"] = tflops;
    out["shapes"].push_back(row);
  }
  std::printf("\nanchor: python3 tools/bench/torch_gemm_anchor.py (F.linear, same shapes)\n");
  // The FP8 FFN's up projection, its input and weight quantized per row (as the norm and the
  // loader make them): the two-step path, then the one op.
  constexpr GemmShape kFp8Shapes[] = {{"1.3B ffn up + gelu, fp8", 32760, 8960, 1536, true},
                                      {"14B ffn up + gelu, fp8", 75600, 13824, 5120, true}};
  const bool fused = ops::cuda::hopper_fp8_gelu_groups_applies(Device::cuda(0), 1536, 8960);
  std::printf("\n%-28s %22s %10s %10s %9s   (the one op %s)\n", "shape", "M x N x K", "2-step ms",
              "1-op ms", "2-step/1", fused ? "on our Hopper kernel" : "is the two steps here");
  for (const GemmShape& s : kFp8Shapes) {
    const ops::Fp8Rows x = ops::quantize_rows_fp8(random_on_gpu({s.m, s.k}, 1.0f, seed++));
    const ops::Fp8Rows w = ops::quantize_rows_fp8(
        random_on_gpu({s.n, s.k}, float(1.0 / std::sqrt(double(s.k))), seed++));
    const Tensor b = random_on_gpu({s.n}, 0.5f, seed++);
    const double two_step = median_gpu_ms(ctx, f.warmup, f.repeats, [&] {
      const Tensor h = ops::fp8_linear(x, DType::BF16, w, b, /*gelu=*/true);
      const ops::Fp8Groups g = ops::quantize_groups_fp8(h);
    });
    const double one_op = median_gpu_ms(ctx, f.warmup, f.repeats, [&] {
      const ops::Fp8Groups g = ops::fp8_linear_gelu_groups(x, w, b);
    });
    std::printf("%-28s %22s %10.3f %10.3f %8.2fx\n", s.name, dims_of(s).c_str(), two_step, one_op,
                two_step / one_op);
    nlohmann::ordered_json row = shape_record(s.name, s);
    row["two_step_median_ms"] = two_step;
    row["one_op_median_ms"] = one_op;
    row["hopper_kernel"] = fused;
    out["fp8_ffn_up"].push_back(row);
  }
  fp8_scales_table(ctx, f, seed, out);
  fused_projections_table(ctx, f, seed, out);
  if (!f.json.empty()) write_json_results(f.json, out);
  return 0;
}

#else

int run_gemm_bench(const GemmBenchFlags&) {
  fail("bench gemm needs the CUDA backend, which this build does not have");
}

#endif

}  // namespace

Action add_gemm_bench(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "gemm", "CUDA linear (cuBLASLt bf16) TFLOP/s on the Wan2.1-1.3B DiT GEMM shapes at 480p");
  auto f = std::make_shared<GemmBenchFlags>();
  cmd->add_option("--repeats", f->repeats, "timed repeats per shape (median; at least 20)");
  cmd->add_option("--warmup", f->warmup, "untimed runs per shape before timing");
  add_json_option(*cmd, f->json);
  return [f] { return run_gemm_bench(*f); };
}

}  // namespace fastvideo::bench
