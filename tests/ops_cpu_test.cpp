// Every CPU op against a naive double-precision loop on fresh random data (DESIGN §3: ≤ 1e-6).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/gemm_autotune.h"
#include "ops/linear.h"
#include "ops/linear_chain.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

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

TEST(OpsCpu, GeluTanhGateIsGeluOfTheFirstHalfTimesTheSecond) {
  Tensor x = randn({3, 2, 10});
  Tensor y = ops::gelu_tanh_gate(x);
  ASSERT_EQ(y.shape(), (Shape{3, 2, 5}));
  Tensor gate = ops::gelu_tanh(x.slice(2, 0, 5).contiguous());
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t c = 0; c < 5; ++c)
      EXPECT_FLOAT_EQ(y.f32()[r * 5 + c], gate.f32()[r * 5 + c] * x.f32()[r * 10 + 5 + c]);
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
