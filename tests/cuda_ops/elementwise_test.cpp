// The memory-bound CUDA ops (elementwise, norms, RoPE, patchify, concat, embedding, upsampling and
// the fused layer_norm_modulate / rms_norm_rope) against their CPU twins in src/ops/cpu, on fresh
// random inputs in BF16 and F32, with odd sizes that leave vector tails and partial warps, and
// mixed-dtype parameters. The CPU reference sees the same BF16-rounded inputs, so the bound only
// covers fp32 math and the output rounding (DESIGN §3): rel_l2 ≤ 4e-3 for BF16, 1e-5 for F32.
// Data-movement ops must be exact. Skips only where no GPU exists.
#include "ops/elementwise.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "core/cuda/cuda_context.h"
#include "ops/channel_norm.h"
#include "ops/conv.h"
#include "ops/embedding.h"
#include "ops/norm.h"
#include "ops/patchify.h"
#include "ops/rope.h"
#include "ops/tensor_ops.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);
const DType kDtypes[] = {DType::BF16, DType::F32};

double bound(DType d) { return d == DType::BF16 ? 4e-3 : 1e-5; }

// What the GPU sees of x in dtype d, as f32 on the CPU (the CPU twin's input).
Tensor rounded(const Tensor& x, DType d) { return x.to(d).to(DType::F32); }
Tensor on_gpu(const Tensor& x, DType d) { return x.to(d).to(kGpu); }
Tensor to_host(const Tensor& y) { return y.to(Device::cpu()).to(DType::F32); }

// Fills the allocator's cached blocks of this size with NaN (all-ones bits, NaN in F32 and BF16),
// so an output element a kernel never writes fails the comparison.
void poison_outputs(const Shape& shape, DType d) {
  std::vector<Tensor> blocks;
  CudaContext& ctx = CudaContext::get(0);
  for (int i = 0; i < 16; ++i) {
    blocks.push_back(Tensor::empty(shape, d, kGpu));
    ASSERT_EQ(cudaMemsetAsync(blocks.back().raw_data(), 0xff, blocks.back().nbytes(), ctx.stream()),
              cudaSuccess);
  }
}

void expect_matches(const Tensor& gpu, const Tensor& cpu, DType d, const std::string& what,
                    double limit = -1) {
  ASSERT_EQ(gpu.device(), kGpu) << what;
  EXPECT_EQ(gpu.dtype(), d) << what;
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  const double err = testing::rel_l2(to_host(gpu), cpu);
  EXPECT_LE(err, limit >= 0 ? limit : bound(d)) << what << " " << dtype_name(d);
}

std::string name(DType d, const Shape& s) { return std::string(dtype_name(d)) + shape_str(s); }

// ---- elementwise.h ---------------------------------------------------------------------------

TEST(CudaElementwise, UnaryOpsMatchTheCpuInEveryDtypeAndSize) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (Shape shape : {Shape{37}, Shape{3, 5, 37}, Shape{2, 1536}, Shape{4099}}) {
      Tensor x = testing::randn(shape, 2.0f);
      Tensor xr = rounded(x, d), xg = on_gpu(x, d);
      const std::string what = name(d, shape);
      poison_outputs(shape, d);
      expect_matches(ops::scale(xg, -0.37f), ops::scale(xr, -0.37f), d, "scale " + what);
      poison_outputs(shape, d);
      expect_matches(ops::silu(xg), ops::silu(xr), d, "silu " + what);
      poison_outputs(shape, d);
      expect_matches(ops::gelu_tanh(xg), ops::gelu_tanh(xr), d, "gelu_tanh " + what);
      poison_outputs(shape, d);
      expect_matches(ops::clamp(xg, -1.0f, 0.5f), ops::clamp(xr, -1.0f, 0.5f), d, "clamp " + what);
    }
  }
}

TEST(CudaElementwise, UnaryOpsReadStridedViews) {
  REQUIRE_GPU();
  Tensor x = testing::randn({6, 37});
  for (DType d : kDtypes) {
    Tensor view = on_gpu(x, d).transpose(0, 1);
    expect_matches(ops::silu(view), ops::silu(rounded(x, d).transpose(0, 1)), d, "silu of a view");
  }
}

TEST(CudaElementwise, BinaryOpsTakeMixedDtypesAndReturnTheFirst) {
  REQUIRE_GPU();
  for (DType da : kDtypes) {
    for (DType db : kDtypes) {
      for (Shape shape : {Shape{5, 37}, Shape{2, 3, 64}}) {
        Tensor a = testing::randn(shape), b = testing::randn(shape);
        Tensor ag = on_gpu(a, da), bg = on_gpu(b, db);
        Tensor ar = rounded(a, da), br = rounded(b, db);
        const std::string what = name(da, shape) + " with " + std::string(dtype_name(db));
        poison_outputs(shape, da);
        expect_matches(ops::add(ag, bg), ops::add(ar, br), da, "add " + what);
        poison_outputs(shape, da);
        expect_matches(ops::mul(ag, bg), ops::mul(ar, br), da, "mul " + what);
      }
    }
  }
}

TEST(CudaElementwise, ModulateMatchesTheCpuWithF32OrBf16Vectors) {
  REQUIRE_GPU();
  for (DType dx : kDtypes) {
    for (DType dv : kDtypes) {
      for (Shape shape : {Shape{2, 5, 37}, Shape{3, 7, 64}, Shape{1, 3, 1536}}) {
        const int64_t B = shape[0], D = shape[2];
        Tensor x = testing::randn(shape), shift = testing::randn({B, D}, 0.5f);
        Tensor scale = testing::randn({B, D}, 0.5f);
        poison_outputs(shape, dx);
        expect_matches(ops::modulate(on_gpu(x, dx), on_gpu(shift, dv), on_gpu(scale, dv)),
                       ops::modulate(rounded(x, dx), rounded(shift, dv), rounded(scale, dv)), dx,
                       "modulate " + name(dx, shape) + " vectors " + std::string(dtype_name(dv)));
      }
    }
  }
}

// The model passes chunks of its [B, 6, D] modulation tensor: strided rows, read in place.
TEST(CudaElementwise, ModulateAndGatedResidualReadChunksOfAModulationTensor) {
  REQUIRE_GPU();
  for (DType dx : kDtypes) {
    for (int64_t D : {37, 64}) {
      const int64_t B = 2, S = 5;
      Tensor x = testing::randn({B, S, D}), y = testing::randn({B, S, D});
      Tensor mod = testing::randn({B, 6, D}, 0.5f);  // F32, as the time MLP makes it
      Tensor mg = mod.to(kGpu);
      Tensor xg = on_gpu(x, dx), yg = on_gpu(y, dx), xr = rounded(x, dx), yr = rounded(y, dx);
      expect_matches(ops::modulate(xg, mg.select(1, 3), mg.select(1, 4)),
                     ops::modulate(xr, mod.select(1, 3), mod.select(1, 4)), dx,
                     "modulate by chunks D=" + std::to_string(D));
      expect_matches(ops::gated_residual(xg, yg, mg.select(1, 5)),
                     ops::gated_residual(xr, yr, mod.select(1, 5)), dx,
                     "gated_residual by a chunk D=" + std::to_string(D));
      // Shift and scale in different dtypes.
      expect_matches(ops::modulate(xg, mg.select(1, 0), mg.select(1, 1).to(DType::BF16)),
                     ops::modulate(xr, mod.select(1, 0), rounded(mod.select(1, 1), DType::BF16)),
                     dx, "modulate mixed vectors D=" + std::to_string(D));
    }
  }
}

TEST(CudaElementwise, GatedResidualMatchesTheCpuWithMixedDtypes) {
  REQUIRE_GPU();
  for (DType dx : kDtypes) {
    for (DType dy : kDtypes) {
      for (DType dg : kDtypes) {
        for (Shape shape : {Shape{2, 5, 37}, Shape{2, 9, 128}}) {
          const int64_t B = shape[0], D = shape[2];
          Tensor x = testing::randn(shape), y = testing::randn(shape);
          Tensor gate = testing::randn({B, D});
          poison_outputs(shape, dx);
          expect_matches(ops::gated_residual(on_gpu(x, dx), on_gpu(y, dy), on_gpu(gate, dg)),
                         ops::gated_residual(rounded(x, dx), rounded(y, dy), rounded(gate, dg)), dx,
                         "gated_residual " + name(dx, shape) + " y " + std::string(dtype_name(dy)) +
                             " gate " + std::string(dtype_name(dg)));
        }
      }
    }
  }
}

// The schedulers' updates: F32 latents in, F32 out, accumulated per element in double.
TEST(CudaElementwise, LinearCombinationKeepsF32AndMatchesTheCpuClosely) {
  REQUIRE_GPU();
  for (size_t count : {size_t(1), size_t(3), size_t(8), size_t(11)}) {
    for (Shape shape : {Shape{1, 3, 5, 7}, Shape{2, 16, 4, 8}}) {
      std::vector<std::pair<Tensor, double>> cpu_terms, gpu_terms;
      for (size_t i = 0; i < count; ++i) {
        Tensor t = testing::randn(shape);
        const double c = 0.3 * double(i) - 0.7 + 1e-3 * double(i * i);
        cpu_terms.emplace_back(t, c);
        gpu_terms.emplace_back(t.to(kGpu), c);
      }
      poison_outputs(shape, DType::F32);
      Tensor y = ops::linear_combination(gpu_terms);
      expect_matches(y, ops::linear_combination(cpu_terms), DType::F32,
                     "linear_combination of " + std::to_string(count) + " " + shape_str(shape),
                     1e-6);
    }
  }
}

TEST(CudaElementwise, LinearCombinationTakesBf16TermsAndReturnsTheFirstDtype) {
  REQUIRE_GPU();
  const Shape shape{3, 37};
  Tensor a = testing::randn(shape), b = testing::randn(shape);
  std::vector<std::pair<Tensor, double>> gpu_terms = {{a.to(kGpu), 0.25},
                                                      {on_gpu(b, DType::BF16), -1.5}};
  std::vector<std::pair<Tensor, double>> cpu_terms = {{a, 0.25}, {rounded(b, DType::BF16), -1.5}};
  expect_matches(ops::linear_combination(gpu_terms), ops::linear_combination(cpu_terms), DType::F32,
                 "linear_combination f32 + bf16", 1e-6);
}

// ---- norm.h ----------------------------------------------------------------------------------

// D = 37 (scalar, a warp per row), 64 / 1536 (vectors; warp or block), 5120 (block per row, Wan
// 14B), rows not a multiple of the four rows a block takes.
const int64_t kRowLengths[] = {37, 64, 1536, 5120};

TEST(CudaNorm, LayerNormMatchesTheCpuWithAndWithoutAffine) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (int64_t D : kRowLengths) {
      const Shape shape{2, 7, D};
      Tensor x = testing::randn(shape, 3.0f);
      Tensor xr = rounded(x, d), xg = on_gpu(x, d);
      poison_outputs(shape, d);
      expect_matches(ops::layer_norm(xg, 1e-6f), ops::layer_norm(xr, 1e-6f), d,
                     "layer_norm " + name(d, shape));
      // Affine parameters in F32 (Wan's norm2 keep-list) and in BF16.
      Tensor w = testing::randn({D}), b = testing::randn({D});
      for (DType dp : kDtypes) {
        poison_outputs(shape, d);
        expect_matches(
            ops::layer_norm(xg, 1e-6f, on_gpu(w, dp), on_gpu(b, dp)),
            ops::layer_norm(xr, 1e-6f, rounded(w, dp), rounded(b, dp)), d,
            "affine layer_norm " + name(d, shape) + " params " + std::string(dtype_name(dp)));
      }
    }
  }
}

TEST(CudaNorm, LayerNormOfAnOffsetRowIsCentredFirst) {
  REQUIRE_GPU();
  // A large common offset: one-pass E[x²]−E[x]² statistics would lose the variance.
  Tensor x = testing::randn({5, 256});
  for (float& v : x.f32()) v += 300.0f;
  expect_matches(ops::layer_norm(x.to(kGpu), 1e-6f), ops::layer_norm(x, 1e-6f), DType::F32,
                 "layer_norm of x + 300", 1e-4);
}

TEST(CudaNorm, RmsNormMatchesTheCpuWithAndWithoutWeight) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (int64_t D : kRowLengths) {
      const Shape shape{3, 5, D};
      Tensor x = testing::randn(shape, 2.0f);
      Tensor xr = rounded(x, d), xg = on_gpu(x, d);
      poison_outputs(shape, d);
      expect_matches(ops::rms_norm(xg, 1e-6f), ops::rms_norm(xr, 1e-6f), d,
                     "rms_norm " + name(d, shape));
      Tensor w = testing::randn({D});
      for (DType dp : kDtypes) {
        poison_outputs(shape, d);
        expect_matches(ops::rms_norm(xg, 1e-6f, on_gpu(w, dp)),
                       ops::rms_norm(xr, 1e-6f, rounded(w, dp)), d,
                       "rms_norm " + name(d, shape) + " weight " + std::string(dtype_name(dp)));
      }
    }
  }
}

TEST(CudaNorm, LayerNormModulateIsLayerNormThenModulate) {
  REQUIRE_GPU();
  for (DType dx : kDtypes) {
    for (DType dv : kDtypes) {
      for (int64_t D : kRowLengths) {
        const int64_t B = 2, S = 5;
        const Shape shape{B, S, D};
        Tensor x = testing::randn(shape, 2.0f);
        Tensor mod = testing::randn({B, 6, D}, 0.5f);
        Tensor mg = on_gpu(mod, dv), mr = rounded(mod, dv);
        Tensor xr = rounded(x, dx);
        Tensor expected =
            ops::modulate(ops::layer_norm(xr, 1e-6f), mr.select(1, 0), mr.select(1, 1));
        // The CPU twin is that composition.
        EXPECT_EQ(
            testing::rel_l2(ops::layer_norm_modulate(xr, 1e-6f, mr.select(1, 0), mr.select(1, 1)),
                            expected),
            0.0);
        poison_outputs(shape, dx);
        expect_matches(
            ops::layer_norm_modulate(on_gpu(x, dx), 1e-6f, mg.select(1, 0), mg.select(1, 1)),
            expected, dx,
            "layer_norm_modulate " + name(dx, shape) + " vectors " + std::string(dtype_name(dv)));
      }
    }
  }
}

// ---- rope.h ----------------------------------------------------------------------------------

// Tables as Wan builds them: angles s·θ_p, f32.
std::pair<Tensor, Tensor> rope_tables(int64_t S, int64_t head_dim) {
  const int64_t P = head_dim / 2;
  Tensor cos = Tensor::empty({S, P}, DType::F32), sin = Tensor::empty({S, P}, DType::F32);
  for (int64_t s = 0; s < S; ++s) {
    for (int64_t p = 0; p < P; ++p) {
      const double angle = double(s + 1) * std::pow(10000.0, -2.0 * double(p) / double(head_dim));
      cos.f32()[size_t(s * P + p)] = float(std::cos(angle));
      sin.f32()[size_t(s * P + p)] = float(std::sin(angle));
    }
  }
  return {cos, sin};
}

// (heads, head_dim): 3×6 leaves pairs but no 16-byte vectors; 4×16 and 12×128 vectorise.
const std::pair<int64_t, int64_t> kHeadShapes[] = {{3, 6}, {4, 16}, {12, 128}};

TEST(CudaRope, ApplyRopeMatchesTheCpu) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (auto [H, hd] : kHeadShapes) {
      const int64_t B = 2, S = 5;
      const Shape shape{B, S, H, hd};
      Tensor x = testing::randn(shape);
      auto [cos, sin] = rope_tables(S, hd);
      poison_outputs(shape, d);
      expect_matches(ops::apply_rope(on_gpu(x, d), cos.to(kGpu), sin.to(kGpu)),
                     ops::apply_rope(rounded(x, d), cos, sin), d, "apply_rope " + name(d, shape));
    }
  }
}

TEST(CudaRope, RmsNormRopeIsRmsNormThenRopePerHead) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (DType dw : kDtypes) {
      for (auto [H, hd] : kHeadShapes) {
        const int64_t B = 2, S = 5, D = H * hd;
        Tensor x = testing::randn({B, S, D}, 2.0f), w = testing::randn({D});
        auto [cos, sin] = rope_tables(S, hd);
        Tensor xr = rounded(x, d), wr = rounded(w, dw);
        Tensor expected =
            ops::apply_rope(ops::rms_norm(xr, 1e-6f, wr).reshape({B, S, H, hd}), cos, sin);
        EXPECT_EQ(testing::rel_l2(ops::rms_norm_rope(xr, 1e-6f, wr, cos, sin, H), expected), 0.0);
        poison_outputs({B, S, H, hd}, d);
        expect_matches(
            ops::rms_norm_rope(on_gpu(x, d), 1e-6f, on_gpu(w, dw), cos.to(kGpu), sin.to(kGpu), H),
            expected, d,
            "rms_norm_rope " + name(d, {B, S, H, hd}) + " weight " + std::string(dtype_name(dw)));
      }
    }
  }
}

TEST(CudaRope, RmsNormRopeWithoutWeight) {
  REQUIRE_GPU();
  const int64_t B = 1, S = 7, H = 3, hd = 6;
  Tensor x = testing::randn({B, S, H * hd});
  auto [cos, sin] = rope_tables(S, hd);
  expect_matches(ops::rms_norm_rope(x.to(kGpu), 1e-6f, {}, cos.to(kGpu), sin.to(kGpu), H),
                 ops::rms_norm_rope(x, 1e-6f, {}, cos, sin, H), DType::F32,
                 "rms_norm_rope without weight");
}

// ---- channel_norm.h --------------------------------------------------------------------------

TEST(CudaChannelNorm, RmsNormChannelsMatchesTheCpu) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (Shape shape : {Shape{2, 5, 3, 4, 7}, Shape{1, 16, 2, 4, 8}, Shape{2, 12, 6, 10}}) {
      const int64_t C = shape[1];
      Tensor x = testing::randn(shape), gamma = testing::randn({C, 1, 1, 1});
      for (DType dg : kDtypes) {
        poison_outputs(shape, d);
        expect_matches(
            ops::rms_norm_channels(on_gpu(x, d), on_gpu(gamma, dg)),
            ops::rms_norm_channels(rounded(x, d), rounded(gamma, dg)), d,
            "rms_norm_channels " + name(d, shape) + " gamma " + std::string(dtype_name(dg)));
      }
    }
  }
}

// ---- patchify.h ------------------------------------------------------------------------------

TEST(CudaPatchify, PatchifyAndUnpatchifyAreTheCpuIndexMapsExactly) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (std::array<int, 3> patch : {std::array<int, 3>{1, 2, 2}, std::array<int, 3>{2, 1, 3}}) {
      const Shape shape{2, 3, 4, 6, 6};
      Tensor x = testing::randn(shape);
      Tensor xr = rounded(x, d), xg = on_gpu(x, d);
      Tensor tokens = ops::patchify(xg, patch);
      expect_matches(tokens, ops::patchify(xr, patch), d, "patchify " + name(d, shape), 0.0);
      const std::array<int64_t, 3> grid = {4 / patch[0], 6 / patch[1], 6 / patch[2]};
      Tensor y = testing::randn(tokens.shape());
      expect_matches(ops::unpatchify(on_gpu(y, d), grid, patch),
                     ops::unpatchify(rounded(y, d), grid, patch), d, "unpatchify " + name(d, shape),
                     0.0);
    }
  }
}

// ---- tensor_ops.h ----------------------------------------------------------------------------

TEST(CudaTensorOps, ConcatMatchesTheCpuExactlyAlongAnyDim) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (int dim : {0, 1, 2, -1}) {
      std::vector<Tensor> cpu, gpu;
      for (int64_t n : {3, 1, 5}) {
        Shape shape{2, 4, 7};
        shape[size_t(dim < 0 ? dim + 3 : dim)] = n;
        Tensor t = testing::randn(shape);
        cpu.push_back(rounded(t, d));
        gpu.push_back(on_gpu(t, d));
      }
      expect_matches(ops::concat(gpu, dim), ops::concat(cpu, dim), d,
                     "concat along " + std::to_string(dim), 0.0);
    }
  }
}

TEST(CudaTensorOps, ConcatOfManyInputsAndViews) {
  REQUIRE_GPU();
  std::vector<Tensor> cpu, gpu;
  for (int i = 0; i < 11; ++i) {
    Tensor t = testing::randn({3, 2 + i % 3, 5});
    cpu.push_back(rounded(t, DType::BF16).transpose(0, 2).contiguous());
    gpu.push_back(on_gpu(t, DType::BF16).transpose(0, 2));  // strided views
  }
  cpu.push_back(Tensor::empty({5, 0, 3}, DType::F32));
  gpu.push_back(Tensor::empty({5, 0, 3}, DType::BF16, kGpu));
  expect_matches(ops::concat(gpu, 1), ops::concat(cpu, 1), DType::BF16, "concat of 12", 0.0);
}

// ---- embedding.h -----------------------------------------------------------------------------

TEST(CudaEmbedding, EmbeddingGathersTheCpuRows) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (int64_t D : {37, 64}) {
      Tensor table = testing::randn({11, D});
      const std::vector<int32_t> ids = {3, 0, 10, 3, 7};
      expect_matches(ops::embedding(on_gpu(table, d), ids), ops::embedding(rounded(table, d), ids),
                     d, "embedding " + name(d, table.shape()), 0.0);
    }
  }
}

// ---- conv.h: upsample_nearest2x --------------------------------------------------------------

TEST(CudaUpsample, UpsampleNearest2xDuplicatesPixelsExactly) {
  REQUIRE_GPU();
  for (DType d : kDtypes) {
    for (Shape shape : {Shape{2, 3, 5, 7}, Shape{1, 2, 3, 4, 16}}) {
      Tensor x = testing::randn(shape);
      Shape out = shape;
      out[out.size() - 2] *= 2;
      out.back() *= 2;
      poison_outputs(out, d);
      expect_matches(ops::upsample_nearest2x(on_gpu(x, d)), ops::upsample_nearest2x(rounded(x, d)),
                     d, "upsample " + name(d, shape), 0.0);
    }
  }
}

}  // namespace
}  // namespace fastvideo
