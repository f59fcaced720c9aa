// Every CPU op against a naive double-precision loop on fresh random data (DESIGN §3: ≤ 1e-6),
// or, for elementwise ops and products, within the error f32 rounding allows each element. The
// embedding lookup and the relative-position bias are in ops_embedding_test and umt5_test.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <functional>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/gemm_autotune.h"
#include "ops/linear.h"
#include "ops/linear_chain.h"
#include "ops/norm.h"
#include "ops/norm_fp8.h"
#include "ops/residual_norm.h"
#include "ops/rope.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

// f32's unit roundoff: one rounded f32 operation is off by at most this fraction of its result.
constexpr double kF32Eps = 0x1p-24;
// Results this small may come out as 0 (exp and tanh saturate, subnormals flush); no bound is
// tighter than this.
constexpr double kTiny = 1e-30;

// wan21.md §1.5: GELU_tanh(x) = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
double gelu_tanh_definition(double x) {
  return 0.5 * x *
         (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}

// The error of GELU_tanh evaluated in f32: the argument u carries ~5 roundings (x³, the two
// constants, the sum, the product), which tanh turns into at most 0.45·5ε absolute (|u|·tanh'(u) ≤
// 0.45), tanhf adds ~1 ulp, and 1 + tanh and the final products round once each; times 0.5·|x|
// that is ≈ 2ε·|x| + 2ε·|y|. Twice that, so a correct formula passes with margin and any other
// GELU (the erf one differs by up to 5e-4 near |x| = 2) fails by orders of magnitude.
double gelu_tanh_f32_bound(double x, double y) {
  return 4 * kF32Eps * (std::abs(x) + std::abs(y)) + kTiny;
}

// Every element of `got` within its bound of the definition's value; a NaN or an infinity in
// `got` fails, a zero bound asks for the exact value. The message names the worst element.
::testing::AssertionResult within_bounds(const Tensor& got, const std::vector<double>& want,
                                         const std::vector<double>& bound) {
  if (got.numel() != int64_t(want.size()) || want.size() != bound.size())
    return ::testing::AssertionFailure() << got.describe() << " for " << want.size() << " values";
  const Tensor g = got.contiguous();
  const auto pg = g.f32();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double error = std::abs(double(pg[i]) - want[i]);
    const double ratio = !std::isfinite(pg[i]) ? INFINITY : error == 0 ? 0 : error / bound[i];
    if (!(ratio <= worst)) {
      worst = ratio;
      at = i;
    }
  }
  if (worst <= 1) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "element " << at << " is " << pg[at] << ", the definition gives " << want[at]
         << ": off by " << std::abs(double(pg[at]) - want[at]) << ", " << worst
         << " times its bound " << bound[at];
}

// An elementwise op's output y against definition(x) for every element x, each within
// bound(x, definition(x)).
template <class Definition, class Bound>
::testing::AssertionResult matches_elementwise(const Tensor& x, const Tensor& y,
                                               Definition definition, Bound bound) {
  const auto px = x.f32();
  std::vector<double> want(px.size()), bounds(px.size());
  for (size_t i = 0; i < px.size(); ++i) {
    want[i] = definition(px[i]);
    bounds[i] = bound(px[i], want[i]);
  }
  return within_bounds(y, want, bounds);
}

// Fresh N(0, stddev) values with the saturating and special inputs of an activation first: large
// |x| on both sides up to `largest`, where exp overflows (|x| ≈ 89), zero, and tiny values.
Tensor activation_inputs(Shape shape, float stddev, float largest = FLT_MAX) {
  Tensor x = randn(std::move(shape), stddev);
  const float special[] = {0.0f,  -0.0f,  1e-30f, -1e-30f, 1e-6f, -1e-6f, 2.0f,    -2.0f,
                           5.0f,  -5.0f,  10.0f,  -10.0f,  20.0f, -20.0f, 88.0f,   -88.0f,
                           89.0f, -89.0f, 1e4f,   -1e4f,   1e15f, -1e15f, largest, -largest};
  std::copy(std::begin(special), std::end(special), x.f32().begin());
  return x;
}

TEST(OpsCpu, LinearMatchesNaiveProductWithBias) {
  Tensor x = randn({2, 5, 37}), w = randn({19, 37}), b = randn({19});
  Tensor y = ops::linear(x, w, b);
  Tensor ref = Tensor::empty({2, 5, 19}, DType::F32);
  auto px = x.f32(), pw = w.f32(), pb = b.f32(), pr = ref.f32();
  for (int r = 0; r < 10; ++r)
    for (int o = 0; o < 19; ++o) {
      double acc = pb[o];
      for (int i = 0; i < 37; ++i) acc += double(px[r * 37 + i]) * pw[o * 37 + i];
      pr[r * 19 + o] = float(acc);
    }
  EXPECT_LT(rel_l2(y, ref), 1e-6);
}

TEST(OpsCpu, AttentionMatchesNaiveSoftmaxWithBias) {
  Tensor q = randn({2, 7, 3, 16}), k = randn({2, 11, 3, 16}), v = randn({2, 11, 3, 16});
  Tensor bias = randn({3, 7, 11});
  EXPECT_LT(rel_l2(ops::attention(q, k, v, 0.3f, bias),
                   testing::reference_attention(q, k, v, 0.3f, bias)),
            1e-6);
}

TEST(OpsCpu, LayerNormAndRmsNormMatchDefinitions) {
  Tensor x = randn({6, 33}, 3.0f), w = randn({33}), b = randn({33});
  Tensor ln = ops::layer_norm(x, 1e-6f, w, b), rms = ops::rms_norm(x, 1e-6f, w);
  Tensor ln_ref = Tensor::empty({6, 33}, DType::F32), rms_ref = Tensor::empty({6, 33}, DType::F32);
  auto px = x.f32(), pw = w.f32(), pb = b.f32();
  for (int r = 0; r < 6; ++r) {
    double mean = 0, var = 0, ss = 0;
    for (int i = 0; i < 33; ++i) mean += px[r * 33 + i] / 33.0;
    for (int i = 0; i < 33; ++i) {
      var += std::pow(px[r * 33 + i] - mean, 2) / 33.0;
      ss += std::pow(px[r * 33 + i], 2) / 33.0;
    }
    for (int i = 0; i < 33; ++i) {
      ln_ref.f32()[r * 33 + i] =
          float((px[r * 33 + i] - mean) / std::sqrt(var + 1e-6) * pw[i] + pb[i]);
      rms_ref.f32()[r * 33 + i] = float(px[r * 33 + i] / std::sqrt(ss + 1e-6) * pw[i]);
    }
  }
  EXPECT_LT(rel_l2(ln, ln_ref), 1e-6);
  EXPECT_LT(rel_l2(rms, rms_ref), 1e-6);
}

// The fused CPU twins are exactly their compositions, so the CUDA fused kernels, checked against
// them (tests/cuda_ops/op_cases.cpp), are checked against the unfused math.
TEST(OpsCpu, LayerNormModulateIsLayerNormThenModulate) {
  for (int64_t D : {37, 64, 1536, 5120}) {
    Tensor x = randn({2, 5, D}, 2.0f), mod = randn({2, 6, D}, 0.5f);
    Tensor shift = mod.select(1, 0), scale = mod.select(1, 1);
    EXPECT_EQ(rel_l2(ops::layer_norm_modulate(x, 1e-6f, shift, scale),
                     ops::modulate(ops::layer_norm(x, 1e-6f), shift, scale)),
              0.0)
        << "D=" << D;
  }
}

// The residual sum beside its norm (residual_norm.h): the CPU twin is the two ops in order, the
// sum returned beside the norm or its FP8 rows; x and y of one shape, the modulation complete.
TEST(OpsCpu, ResidualNormIsTheSumThenItsNorm) {
  const Tensor x = randn({2, 5, 256}), y = randn({2, 5, 256}), mod = randn({3, 2, 256}, 0.5f);
  const Tensor gate = mod.select(0, 0), shift = mod.select(0, 1), scale = mod.select(0, 2);
  const Tensor sum = ops::gated_residual(x, y, gate);
  ops::ResidualNorm r = ops::residual_norm(x, y, gate, {1e-6f, shift, scale, true, false});
  EXPECT_EQ(rel_l2(r.sum, sum), 0.0);
  EXPECT_EQ(rel_l2(r.normed, ops::layer_norm_modulate(sum, 1e-6f, shift, scale)), 0.0);
  EXPECT_FALSE(r.rows.has_value());
  r = ops::residual_norm(x, y, Tensor(), {1e-6f, Tensor(), Tensor(), false, true});
  EXPECT_EQ(rel_l2(r.sum, ops::add(x, y)), 0.0);
  ASSERT_TRUE(r.rows.has_value());
  EXPECT_FALSE(r.normed.defined());
  EXPECT_EQ(rel_l2(r.rows->scales, ops::layer_norm_fp8(r.sum, 1e-6f, {}, {}).scales), 0.0);
  std::string m = testing::error_of([&] {
    ops::residual_norm(x, randn({2, 5, 128}), gate, {1e-6f, shift, scale, true, false});
  });
  EXPECT_TRUE(testing::contains(m, "x and y must be one [B, S, D] shape")) << m;
  m = testing::error_of([&] { ops::residual_norm(x, y, gate, {1e-6f, shift, {}, true, false}); });
  EXPECT_TRUE(testing::contains(m, "shift and scale come together and are required")) << m;
}

TEST(OpsCpu, RmsNormRopeIsRmsNormThenRopePerHead) {
  const std::pair<int64_t, int64_t> head_shapes[] = {{3, 6}, {4, 16}, {12, 128}};
  for (const auto& [H, hd] : head_shapes) {
    const int64_t B = 2, S = 5;
    Tensor x = randn({B, S, H * hd}, 2.0f), w = randn({H * hd});
    Tensor cos = randn({S, hd / 2}), sin = randn({S, hd / 2});
    for (const Tensor& weight : {w, Tensor()}) {
      EXPECT_EQ(
          rel_l2(ops::rms_norm_rope(x, 1e-6f, weight, cos, sin, H),
                 ops::apply_rope(ops::rms_norm(x, 1e-6f, weight).reshape({B, S, H, hd}), cos, sin)),
          0.0)
          << H << " heads of " << hd << (weight.defined() ? "" : " without weight");
    }
  }
}

TEST(OpsCpu, ModulateGatedResidualAndLinearCombination) {
  Tensor x = randn({2, 4, 8}), y = randn({2, 4, 8}), sh = randn({2, 8}), sc = randn({2, 8});
  Tensor m = ops::modulate(x, sh, sc), g = ops::gated_residual(x, y, sc);
  std::pair<Tensor, double> terms[] = {{x, 0.25}, {y, -1.5}};
  Tensor lc = ops::linear_combination(terms);
  for (int b = 0; b < 2; ++b)
    for (int s = 0; s < 4; ++s)
      for (int d = 0; d < 8; ++d) {
        int i = (b * 4 + s) * 8 + d;
        EXPECT_NEAR(m.f32()[i], x.f32()[i] * (1 + sc.f32()[b * 8 + d]) + sh.f32()[b * 8 + d], 1e-5);
        EXPECT_NEAR(g.f32()[i], x.f32()[i] + y.f32()[i] * sc.f32()[b * 8 + d], 1e-5);
        EXPECT_NEAR(lc.f32()[i], 0.25 * x.f32()[i] - 1.5 * y.f32()[i], 1e-5);
      }
}

TEST(OpsCpu, GeluTanhMatchesItsFormulaAndSaturates) {
  // 7·13·443 elements: several of the op's parallel chunks, none a multiple of a vector width.
  const Tensor x = activation_inputs({7, 13, 443}, 3.0f);
  const Tensor y = ops::gelu_tanh(x);
  ASSERT_EQ(y.shape(), x.shape());
  EXPECT_TRUE(matches_elementwise(x, y, gelu_tanh_definition, gelu_tanh_f32_bound));
  // Saturated: the identity for large x, zero for large −x, on the way to ±FLT_MAX.
  for (float v : {20.0f, 1e4f, 1e15f, FLT_MAX}) {
    EXPECT_EQ(ops::gelu_tanh(Tensor::full({1}, v)).f32()[0], v);
    EXPECT_LE(std::abs(ops::gelu_tanh(Tensor::full({1}, -v)).f32()[0]), kTiny) << -v;
  }
}

TEST(OpsCpu, SiluMatchesItsFormulaAndSaturates) {
  const Tensor x = activation_inputs({7, 13, 443}, 3.0f);
  const Tensor y = ops::silu(x);
  ASSERT_EQ(y.shape(), x.shape());
  // SiLU(x) = x·σ(x) = x / (1 + e^−x). In f32: expf (≤ 1 ulp, 2ε), the sum and the quotient (ε
  // each), no cancellation anywhere: ≤ 4ε·|y|; 8ε for margin. Below −88.7 e^−x overflows f32 and
  // the result, |x|·e^x < 1e-36, becomes 0 (kTiny).
  EXPECT_TRUE(matches_elementwise(
      x, y, [](float v) { return v / (1.0 + std::exp(-double(v))); },
      [](float, double want) { return 8 * kF32Eps * std::abs(want) + kTiny; }));
  // Saturated: the identity for large x (the bound above allows 8ε; this asks for exactness).
  for (float v : {20.0f, 1e4f, 1e15f, FLT_MAX})
    EXPECT_EQ(ops::silu(Tensor::full({1}, v)).f32()[0], v);
}

// A correctly rounded f32 product or sum is the double result (exact for a product of two floats)
// rounded to f32: rounding twice is harmless at 53 ≥ 2·24 + 2 bits. So the values are exact.
TEST(OpsCpu, ScaleAddAndMulAreTheCorrectlyRoundedResults) {
  Tensor a = randn({5, 3, 331}, 4.0f), b = randn({5, 3, 331}, 0.01f);
  for (int64_t i = 0; i < 331; ++i) a.f32()[331 + i] = 0.0f;  // a zero row
  const Tensor b_strided = randn({331, 3, 5}).permute({2, 1, 0});
  const Tensor bs = b_strided.contiguous();
  const float s = -0.7071f;
  const auto pa = a.f32(), pb = b.f32(), pbs = bs.f32();
  std::vector<double> scaled(pa.size()), sum(pa.size()), product(pa.size()), strided(pa.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    scaled[i] = float(double(pa[i]) * s);
    sum[i] = float(double(pa[i]) + pb[i]);
    product[i] = float(double(pa[i]) * pb[i]);
    strided[i] = float(double(pa[i]) + pbs[i]);
  }
  const std::vector<double> exact(pa.size(), 0.0);
  EXPECT_TRUE(within_bounds(ops::scale(a, s), scaled, exact)) << "scale";
  EXPECT_TRUE(within_bounds(ops::add(a, b), sum, exact)) << "add";
  EXPECT_TRUE(within_bounds(ops::mul(a, b), product, exact)) << "mul";
  EXPECT_TRUE(within_bounds(ops::add(a, b_strided), strided, exact)) << "add, strided operand";
  EXPECT_THROW(ops::add(a, randn({5, 331, 3})), Error);  // same count, another shape
}

// A sum of K f32 products, however ordered or fused, is within γ_K·Σ|aᵢ·bᵢ| of the exact sum
// (γ_K ≈ K·ε, Higham §3.1); this bound holds for every element, zero rows exactly.
double dot_f32_bound(int64_t k, double abs_sum) { return double(k + 1) * kF32Eps * abs_sum; }

TEST(OpsCpu, LinearGeluIsTheTanhGeluOfTheAffineMap) {
  const int64_t rows = 2 * 7, in = 37, out = 23;
  Tensor x = randn({2, 7, in});
  for (int64_t i = 0; i < in; ++i) x.f32()[3 * in + i] = 0.0f;  // a zero row: GELU(bias)
  // Pre-activations of spread ~3.6: across GELU's curve and into both of its saturations.
  const Tensor w = randn({out, in}, 3.0f / std::sqrt(float(in))), b = randn({out}, 2.0f);
  for (const Tensor& bias : {b, Tensor()}) {
    const Tensor y = ops::linear_gelu(x, w, bias);
    ASSERT_EQ(y.shape(), (Shape{2, 7, out}));
    std::vector<double> want(size_t(rows * out)), bound(want.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) {
        double z = bias.defined() ? b.f32()[o] : 0.0, abs_sum = std::abs(z);
        for (int64_t i = 0; i < in; ++i) {
          z += double(x.f32()[r * in + i]) * w.f32()[o * in + i];
          abs_sum += std::abs(double(x.f32()[r * in + i]) * w.f32()[o * in + i]);
        }
        const size_t e = size_t(r * out + o);
        want[e] = gelu_tanh_definition(z);
        // The affine map's error (in + 1 terms) through GELU's slope (≤ 1.129), then GELU's own.
        bound[e] = 1.13 * dot_f32_bound(in + 1, abs_sum) + gelu_tanh_f32_bound(z, want[e]);
      }
    EXPECT_TRUE(within_bounds(y, want, bound)) << (bias.defined() ? "with bias" : "without bias");
  }
}

TEST(OpsCpu, MatmulMatchesTheSumOfProductsPlainTransposedAndStrided) {
  const int64_t sizes[][3] = {{13, 37, 19}, {67, 131, 45}, {1, 5, 1}};
  for (const auto& [m, k, n] : sizes) {
    Tensor a = randn({m, k}), b = randn({k, n});
    for (int64_t i = 0; i < k; ++i) a.f32()[(m / 2) * k + i] = 0.0f;  // a zero row
    // b, as [n, k] for transpose_b, and a and b as transposed views of other tensors.
    const Tensor bt = b.transpose(0, 1).contiguous();
    const Tensor a_view = a.transpose(0, 1).contiguous().transpose(0, 1);
    const Tensor b_view = bt.transpose(0, 1), bt_view = b.transpose(0, 1);
    std::vector<double> want(size_t(m * n)), bound(want.size());
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double c = 0, abs_sum = 0;
        for (int64_t p = 0; p < k; ++p) {
          const double t = double(a.f32()[i * k + p]) * b.f32()[p * n + j];
          c += t, abs_sum += std::abs(t);
        }
        want[size_t(i * n + j)] = c;
        bound[size_t(i * n + j)] = dot_f32_bound(k, abs_sum);
      }
    const std::string size = std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n);
    const std::pair<Tensor, const char*> products[] = {
        {ops::matmul(a, b), "A·B"},
        {ops::matmul(a, bt, true), "A·Bᵀ"},
        {ops::matmul(a_view, b_view), "A·B on transposed views"},
        {ops::matmul(a_view, bt_view, true), "A·Bᵀ on transposed views"}};
    for (const auto& [c, what] : products) {
      ASSERT_EQ(c.shape(), (Shape{m, n})) << what;
      EXPECT_TRUE(within_bounds(c, want, bound)) << what << ", " << size;
    }
  }
  EXPECT_THROW(ops::matmul(randn({3, 4}), randn({3, 4})), Error);  // inner 4 against 3
  EXPECT_EQ(ops::matmul(randn({0, 4}), randn({5, 4}), true).shape(), (Shape{0, 5}));
}

TEST(OpsCpu, AllFiniteFindsANanOrAnInfinityAnywhere) {
  Tensor x = randn({3, 337});
  x.f32()[0] = FLT_MAX, x.f32()[1] = -FLT_MAX, x.f32()[2] = -0.0f, x.f32()[3] = FLT_TRUE_MIN;
  EXPECT_TRUE(ops::all_finite(x));
  for (int64_t at : {int64_t(0), int64_t(500), x.numel() - 1})
    for (float bad : {NAN, INFINITY, -INFINITY}) {
      Tensor y = x.clone();
      y.f32()[at] = bad;
      EXPECT_FALSE(ops::all_finite(y)) << bad << " at " << at;
      EXPECT_FALSE(ops::all_finite(y.transpose(0, 1))) << bad << " at " << at << ", strided";
    }
}

TEST(OpsCpu, GeluTanhGateIsGeluOfTheFirstHalfTimesTheSecond) {
  const int64_t rows = 3 * 5, F = 37;
  Tensor x = activation_inputs({3, 5, 2 * F}, 3.0f, 1e30f);  // FLT_MAX times the gate overflows
  Tensor y = ops::gelu_tanh_gate(x);
  ASSERT_EQ(y.shape(), (Shape{3, 5, F}));
  std::vector<double> want(size_t(rows * F)), bound(want.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < F; ++c) {
      const double g = x.f32()[r * 2 * F + c], u = x.f32()[r * 2 * F + F + c];
      const double gelu = gelu_tanh_definition(g);
      want[size_t(r * F + c)] = gelu * u;
      // GELU's error times |u|, then the product's rounding.
      bound[size_t(r * F + c)] =
          gelu_tanh_f32_bound(g, gelu) * std::abs(u) + kF32Eps * std::abs(gelu * u) + kTiny;
    }
  EXPECT_TRUE(within_bounds(y, want, bound));
  EXPECT_THROW(ops::gelu_tanh_gate(randn({2, 7})), Error);  // no halves
}

TEST(Tensor, ViewsShareStorageAndContiguousCopiesStridedData) {
  Tensor x = randn({3, 4, 5});
  Tensor t = x.transpose(0, 2);  // [5,4,3]
  EXPECT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 5; ++k)
        EXPECT_EQ(c.f32()[(k * 4 + j) * 3 + i], x.f32()[(i * 4 + j) * 5 + k]);
  Tensor s = x.slice(1, 1, 3).contiguous();
  EXPECT_EQ(s.shape(), (Shape{3, 2, 5}));
  EXPECT_EQ(s.f32()[0], x.f32()[5]);
  EXPECT_THROW(x.reshape({7, -1}), Error);
}

TEST(DType, Bf16AndF16RoundTripWithinHalfAnUlp) {
  Tensor x = randn({1000}, 10.0f);
  Tensor bf = x.to(DType::BF16).to(DType::F32), hf = x.to(DType::F16).to(DType::F32);
  for (int i = 0; i < 1000; ++i) {
    float v = x.f32()[i];
    EXPECT_LE(std::abs(bf.f32()[i] - v), std::abs(v) * (1.0f / 256)) << v;
    EXPECT_LE(std::abs(hf.f32()[i] - v), std::abs(v) * (1.0f / 2048) + 6e-8f) << v;
  }
}

TEST(OpsCpu, ClampBoundsValuesAndKeepsNaN) {
  Tensor x = randn({1000}, 3.0f);
  x.f32()[7] = NAN;
  Tensor y = ops::clamp(x, -1.0f, 1.0f);
  int64_t wrong = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    if (i == 7) continue;
    wrong += y.f32()[i] != std::min(1.0f, std::max(-1.0f, x.f32()[i]));
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(std::isnan(y.f32()[7]));
}

// The chain a guided UniPC step makes (CFG's delta and prediction rounded to bf16, then m, the
// corrector and the predictor in f32): every value is Σ c·x of its terms, summed per element in
// double in the order given, as a plain loop here computes it.
TEST(LinearChain, EachValueIsTheLinearCombinationOfItsTerms) {
  const Shape shape{2, 3, 5, 7};
  const Tensor cond = randn(shape), uncond = randn(shape), sample = randn(shape),
               last = randn(shape), m1 = randn(shape);
  auto lc = [&](std::initializer_list<std::pair<Tensor, double>> terms) {
    Tensor out = Tensor::empty(shape, DType::F32);
    for (int64_t e = 0; e < out.numel(); ++e) {
      double acc = 0;
      for (const auto& [t, c] : terms) acc += c * double(t.f32()[e]);
      out.f32()[e] = float(acc);
    }
    return out;
  };
  auto bf16 = [](const Tensor& t) { return t.to(DType::BF16).to(DType::F32); };
  const Tensor delta_ref = bf16(lc({{cond, 1.0}, {uncond, -1.0}}));
  const Tensor pred_ref = bf16(lc({{uncond, 1.0}, {delta_ref, 5.0}}));
  const Tensor m_ref = lc({{sample, 1.0}, {pred_ref, -0.75}});
  const Tensor corrected_ref = lc({{last, 0.9}, {m_ref, 0.3}, {m1, -0.2}});
  const Tensor next_ref = lc({{corrected_ref, 0.6}, {m_ref, 0.5}, {m1, -0.1}});

  ops::LinearChain chain;
  const auto c = chain.input(cond), u = chain.input(uncond);
  const auto delta = chain.combine({{c, 1.0}, {u, -1.0}}, DType::BF16);
  const auto pred = chain.combine({{u, 1.0}, {delta, 5.0}}, DType::BF16);
  const auto x = chain.input(sample), h = chain.input(m1);
  const auto m = chain.combine({{x, 1.0}, {pred, -0.75}}, DType::F32);
  const auto corrected = chain.combine({{chain.input(last), 0.9}, {m, 0.3}, {h, -0.2}}, DType::F32);
  const auto next = chain.combine({{corrected, 0.6}, {m, 0.5}, {h, -0.1}}, DType::F32);
  for (auto r : {delta, m, corrected, next}) chain.keep(r);
  std::vector<int> order;
  chain.on_run([&](const ops::LinearChain&) { order.push_back(1); });
  chain.on_run([&](const ops::LinearChain& ran) {
    order.push_back(2);
    EXPECT_EQ(ran.result(next).numel(), sample.numel());
  });
  chain.run();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(rel_l2(chain.result(delta), delta_ref), 0.0);
  EXPECT_EQ(rel_l2(chain.result(m), m_ref), 0.0);
  EXPECT_EQ(rel_l2(chain.result(corrected), corrected_ref), 0.0);
  EXPECT_EQ(rel_l2(chain.result(next), next_ref), 0.0);
  EXPECT_THROW(chain.result(pred), Error) << "pred was not kept";
  EXPECT_EQ(chain.result(c).shape(), shape) << "an input is its own result";
}

TEST(LinearChain, FlagsANonFiniteValueInItsSlotOnly) {
  const Shape shape{4, 33};
  for (bool plant : {false, true}) {
    Tensor a = randn(shape), b = randn(shape);
    if (plant) a.f32()[77] = std::nanf("");
    Tensor flags = Tensor::zeros({3}, DType::I32);
    ops::LinearChain chain;
    const auto sum = chain.combine({{chain.input(a), 1.0}, {chain.input(b), 2.0}}, DType::F32);
    chain.flag_non_finite(sum, flags, 1);
    chain.run();
    EXPECT_EQ(flags.data<int32_t>()[0], 0);
    EXPECT_EQ(flags.data<int32_t>()[1], plant ? 1 : 0) << (plant ? "NaN missed" : "false alarm");
    EXPECT_EQ(flags.data<int32_t>()[2], 0);
  }
}

TEST(LinearChain, MisuseIsAnErrorNamingWhatWasWrong) {
  const Tensor a = randn({2, 3});
  auto message = [](const std::function<void()>& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message([&] {
              ops::LinearChain chain;
              chain.input(a);
              chain.input(randn({3, 2}));
            }).find("does not match the first input"),
            std::string::npos);
  EXPECT_NE(message([&] {
              ops::LinearChain chain;
              chain.combine({{ops::LinearChain::Ref{3}, 1.0}}, DType::F32);
            }).find("not a node of this chain"),
            std::string::npos);
  EXPECT_NE(message([&] {
              ops::LinearChain chain;
              const auto x = chain.input(a);
              for (int i = 0; i < ops::LinearChainProgram::kMaxNodes; ++i)
                chain.combine({{x, 1.0}}, DType::F32);
            }).find("more than 16 inputs and values"),
            std::string::npos);
  EXPECT_NE(message([&] {
              ops::LinearChain chain;
              chain.input(Tensor::zeros({2, 3}, DType::I32));
            }).find("is not F32 or BF16"),
            std::string::npos);
}

// GEMM autotuning's switch (ops/gemm_autotune.h) is per thread, and a scope inside an active one
// never turns it off (the transformer opens its own inside a benchmark's).
TEST(GemmAutotuneScope, IsPerThreadAndNests) {
  EXPECT_FALSE(ops::gemm_autotune_active());
  {
    const ops::GemmAutotuneScope on(true);
    EXPECT_TRUE(ops::gemm_autotune_active());
    {
      const ops::GemmAutotuneScope off(false);
      EXPECT_TRUE(ops::gemm_autotune_active());
    }
    bool elsewhere = true;
    std::thread([&] { elsewhere = ops::gemm_autotune_active(); }).join();
    EXPECT_FALSE(elsewhere);
  }
  EXPECT_FALSE(ops::gemm_autotune_active());
  const ops::GemmAutotuneScope off(false);
  EXPECT_FALSE(ops::gemm_autotune_active());
}

}  // namespace
}  // namespace fastvideo
