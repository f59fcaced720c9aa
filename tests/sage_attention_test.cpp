// SAGE_ATTN (ops/sage_attention.h) on the CPU: the E4M3 conversion against hand-checked values and
// every code's rounding interval, the INT8 scale groups of the wgmma fragments, K smoothing, the
// accuracy of the whole against dense attention computed in double, and the backend: chosen by
// name only, self-attention only, head_dim 64/128, refused on GPUs, a tiny generation on the CPU.
#include "ops/sage_attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "attention/attention_registry.h"
#include "attention/attention_selection.h"
#include "fastvideo/video_generator.h"
#include "ops/elementwise.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

using testing::cosine;
using testing::error_of;
using testing::rel_l2;

using testing::contains;

// Dense attention in double (test_util's definition-level reference), f32 in and out.
Tensor dense(const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
  return testing::reference_attention(q, k, v, scale);
}

// ---------------------------------------------------------------------------------------------
// FP8 E4M3

TEST(E4m3, EncodesTheHandCheckedTable) {
  auto code = [](float x) { return int(f32_to_e4m3(x)); };
  EXPECT_EQ(code(0.f), 0x00);
  EXPECT_EQ(code(-0.f), 0x80);
  EXPECT_EQ(code(1.f), 0x38);  // exponent 7 = the bias
  EXPECT_EQ(code(-1.f), 0xb8);
  EXPECT_EQ(code(448.f), 0x7e);  // the largest finite value
  EXPECT_EQ(code(-448.f), 0xfe);
  EXPECT_EQ(code(464.f), 0x7e);  // above 448 saturates (464: the tie 448|480, 480 is NaN's code)
  EXPECT_EQ(code(1e6f), 0x7e);
  EXPECT_EQ(code(-500.f), 0xfe);
  EXPECT_EQ(code(INFINITY), 0x7e);  // infinities saturate too
  EXPECT_EQ(code(-INFINITY), 0xfe);
  EXPECT_EQ(code(0.001953125f), 0x01);   // 2^-9, the smallest subnormal
  EXPECT_EQ(code(0.0009765625f), 0x00);  // 2^-10: the tie 0|2^-9, to the even 0
  EXPECT_EQ(code(0.00097657f), 0x01);    // just above that tie
  EXPECT_EQ(code(0.0029296875f), 0x02);  // 1.5·2^-9: the tie 1|2 (×2^-9), to the even 2
  EXPECT_EQ(code(0.013671875f), 0x07);   // 7·2^-9, the largest subnormal
  EXPECT_EQ(code(0.0146484375f), 0x08);  // 7.5·2^-9: the tie 7|8 (×2^-9), to 2^-6
  EXPECT_EQ(code(0.015625f), 0x08);      // 2^-6, the smallest normal
  EXPECT_EQ(code(1.0625f), 0x38);        // the tie 1|1.125, to the even 1
  EXPECT_EQ(code(1.0626f), 0x39);        // just above it
  EXPECT_EQ(code(1.1875f), 0x3a);        // the tie 1.125|1.25, to the even 1.25
  EXPECT_EQ(code(1.1874f), 0x39);        // just below it
  EXPECT_EQ(code(240.f), 0x77);          // 1.875·2^7
  EXPECT_EQ(code(432.f), 0x7e);          // the tie 416|448, to the even 448
  EXPECT_EQ(code(420.f), 0x7d);          // 416 = 1.625·2^8
  EXPECT_EQ(code(-3.3f), 0xc5);          // -3.25 = -1.625·2^1
  EXPECT_EQ(code(0.1f), 0x1d);           // 0.1015625 = 1.625·2^-4
  EXPECT_EQ(e4m3_to_f32(0x7e), 448.f);
  EXPECT_EQ(e4m3_to_f32(0x01), 0.001953125f);
  EXPECT_EQ(e4m3_to_f32(0x08), 0.015625f);
  EXPECT_EQ(e4m3_to_f32(0x3a), 1.25f);
  EXPECT_EQ(e4m3_to_f32(0xc5), -3.25f);
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0x7f)));
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0xff)));
  EXPECT_TRUE(std::isnan(e4m3_to_f32(f32_to_e4m3(NAN))));
}

// Every finite code decodes and encodes back to itself, and the midpoint between two neighbours
// goes to the one with the even code, while a hair either side goes to the nearer one: the whole
// round-to-nearest-even rule, subnormals included.
TEST(E4m3, EveryCodeRoundTripsAndMidpointsRoundToEven) {
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7f) == 0x7f) continue;  // NaN
    EXPECT_EQ(int(f32_to_e4m3(e4m3_to_f32(uint8_t(code)))), code);
  }
  for (int code = 0; code < 0x7e; ++code) {
    const float lo = e4m3_to_f32(uint8_t(code)), hi = e4m3_to_f32(uint8_t(code + 1));
    ASSERT_LT(lo, hi) << "codes are not ordered at " << code;
    const float mid = (lo + hi) / 2;  // exact in f32
    const int even = code % 2 == 0 ? code : code + 1;
    for (float sign : {1.f, -1.f}) {
      const int s = sign < 0 ? 0x80 : 0;
      EXPECT_EQ(int(f32_to_e4m3(sign * mid)), even | s) << "midpoint " << sign * mid;
      EXPECT_EQ(int(f32_to_e4m3(sign * std::nextafter(mid, 0.f))), code | s) << sign * mid;
      EXPECT_EQ(int(f32_to_e4m3(sign * std::nextafter(mid, 1e9f))), (code + 1) | s) << sign * mid;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// INT8 groups

// Inputs below 0.5 in magnitude, under the maximum each test then sets in every group.
Tensor small_values(const Shape& shape) {
  Tensor t = testing::randn(shape, 0.1f);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = std::clamp(t.data<float>()[i], -0.49f, 0.49f);
  return t;
}

TEST(SageQuantization, QueryRowsIAndIPlus8OfEach16ShareOneOf32ScalesPerBlockOf64) {
  EXPECT_EQ(sage_query_scale_index(3), sage_query_scale_index(11));
  EXPECT_NE(sage_query_scale_index(3), sage_query_scale_index(4));
  EXPECT_NE(sage_query_scale_index(3), sage_query_scale_index(19));  // the next warp's rows
  EXPECT_EQ(sage_query_scale_index(16 + 5), 8 + 5);
  EXPECT_EQ(sage_query_scale_index(64 + 48 + 15), 32 + 3 * 8 + 7);
  // 150 rows: two whole blocks and 22 rows of a third (rows 128..149: warp 0 whole, warp 1 rows
  // 16..21 of its 16, so its pairs 6 and 7 and warps 2, 3 hold no row).
  const int64_t S = 150, H = 2, D = 64;
  const float multiplier = sage_q_multiplier(0.125f);
  Tensor q = small_values({1, S, H, D});
  const int64_t groups = sage_query_scale_count(S);
  ASSERT_EQ(groups, 96);
  std::vector<float> group_max(size_t(H * groups), 0.f);
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t s = 0; s < S; ++s) {
      const int64_t g = sage_query_scale_index(s);
      if (group_max[size_t(h * groups + g)] != 0) continue;
      // The first row of each group carries its maximum, in a channel and sign that vary: the
      // second row of a pair (i + 8) is the first one for every fourth group.
      const int64_t row = (g % 4 == 0 && s % 16 < 8 && s + 8 < S) ? s + 8 : s;
      const float value = (1.f + 0.03f * float(g)) * (g % 2 ? -1.f : 1.f);
      q.data<float>()[(row * H + h) * D + (g * 7 + h) % D] = value;
      group_max[size_t(h * groups + g)] = std::fabs(value);
    }
  }
  const SageInt8 quantized = ops::cpu::sage_quantize_int8(q, SageInt8Grouping::Query, multiplier);
  ASSERT_EQ(quantized.scales.shape(), (Shape{1, H, groups}));
  for (int64_t h = 0; h < H; ++h) {
    for (int64_t g = 0; g < groups; ++g) {
      const float expected = group_max[size_t(h * groups + g)] == 0
                                 ? 1.f  // a group with no row
                                 : group_max[size_t(h * groups + g)] * multiplier / 127.f;
      EXPECT_EQ(quantized.scales.data<float>()[h * groups + g], expected)
          << "head " << h << " group " << g;
    }
    for (int64_t s = 0; s < S; ++s) {
      const float scale = quantized.scales.data<float>()[h * groups + sage_query_scale_index(s)];
      for (int64_t d = 0; d < D; ++d) {
        const float x = q.data<float>()[(s * H + h) * D + d] * multiplier;
        const int q8 = quantized.values.data<int8_t>()[(s * H + h) * D + d];
        ASSERT_LE(std::fabs(float(q8) * scale - x), 0.5f * scale * 1.0001f) << s << "," << d;
        if (std::fabs(x) == group_max[size_t(h * groups + sage_query_scale_index(s))] * multiplier)
          EXPECT_EQ(std::abs(q8), 127);
      }
    }
  }
}

TEST(SageQuantization, KeysOfABlockOf128FallIntoFourGroupsByLanePair) {
  for (int64_t n : {0, 1, 8, 9, 120, 121}) EXPECT_EQ(sage_key_scale_index(n), 0) << n;
  for (int64_t n : {2, 3, 10, 127}) EXPECT_NE(sage_key_scale_index(n), 0) << n;
  EXPECT_EQ(sage_key_scale_index(6), 3);
  EXPECT_EQ(sage_key_scale_index(127), 3);
  EXPECT_EQ(sage_key_scale_index(128 + 4), 4 + 2);
  // 300 keys: two whole blocks and 44 keys of a third.
  const int64_t S = 300, H = 3, D = 128;
  Tensor k = small_values({2, S, H, D});
  const int64_t groups = sage_key_scale_count(S);
  ASSERT_EQ(groups, 12);
  std::vector<float> group_max(size_t(2 * H * groups), 0.f);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t g = 0; g < groups; ++g) {
        // Key 8·j + 2·t + u of block g / 4 with t = g % 4, j and u varying with the group.
        const int64_t j = (g * 5 + h + b) % (g / 4 == 2 ? 5 : 16), u = (g + h) % 2;
        const int64_t key = g / 4 * 128 + 8 * j + 2 * (g % 4) + u;
        ASSERT_LT(key, S);
        const float value = -(2.f + 0.1f * float(g + h + b));
        k.data<float>()[((b * S + key) * H + h) * D + (g + 3 * h) % D] = value;
        group_max[size_t((b * H + h) * groups + g)] = -value;
      }
  const SageInt8 quantized = ops::cpu::sage_quantize_int8(k, SageInt8Grouping::Key);
  ASSERT_EQ(quantized.scales.shape(), (Shape{2, H, groups}));
  for (int64_t i = 0; i < 2 * H * groups; ++i)
    EXPECT_EQ(quantized.scales.data<float>()[i], group_max[size_t(i)] / 127.f) << "scale " << i;
}

TEST(SageQuantization, VScalesArePerChannelMaximaOverAllTokensOver448) {
  const int64_t S = 70, H = 2, D = 64;
  Tensor v = testing::randn({1, S, H, D});
  for (int64_t s = 0; s < S; ++s) v.data<float>()[(s * H + 1) * D + 5] = 0.f;  // an empty channel
  v.data<float>()[(33 * H + 0) * D + 7] = -40.f;
  const SageV quantized = ops::cpu::sage_quantize_v(v);
  ASSERT_EQ(quantized.scales.shape(), (Shape{1, H, D}));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t d = 0; d < D; ++d) {
      float mx = 0;
      for (int64_t s = 0; s < S; ++s)
        mx = std::max(mx, std::fabs(v.data<float>()[(s * H + h) * D + d]));
      const float scale = quantized.scales.data<float>()[h * D + d];
      EXPECT_EQ(scale, mx > 0 ? mx / 448.f : 1.f) << h << "," << d;
      for (int64_t s = 0; s < S; ++s) {
        const float x = v.data<float>()[(s * H + h) * D + d];
        const float back = e4m3_to_f32(quantized.values.data<uint8_t>()[(s * H + h) * D + d]);
        ASSERT_LE(std::fabs(back * scale - x), std::fabs(x) / 16 + scale / 1024) << s;
      }
    }
  EXPECT_EQ(int(quantized.values.data<uint8_t>()[(33 * H + 0) * D + 7]), 0xfe);  // -448
}

TEST(SageQuantization, SmoothedKHasZeroMeanOverTokensPerChannel) {
  Tensor k = testing::randn({2, 90, 3, 64});
  for (int64_t i = 0; i < k.numel(); ++i) k.data<float>()[i] += float(i % 64) * 0.5f;  // biases
  const Tensor smooth = ops::cpu::sage_smooth_k(k);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t c = 0; c < 3 * 64; ++c) {
      double mean = 0, shift = 0;
      for (int64_t s = 0; s < 90; ++s) {
        const int64_t at = (b * 90 + s) * 3 * 64 + c;
        mean += smooth.data<float>()[at] / 90.0;
        const double d = double(k.data<float>()[at]) - smooth.data<float>()[at];
        if (s == 0) shift = d;
        EXPECT_NEAR(d, shift, 1e-5) << "the same mean comes off every token";
      }
      EXPECT_NEAR(mean, 0.0, 1e-5) << "batch " << b << " channel " << c;
    }
}

// ---------------------------------------------------------------------------------------------
// Accuracy

struct Accuracy {
  double cosine = 0, rel_l2 = 0;
};

Accuracy accuracy(const Tensor& out, const Tensor& reference) {
  return {cosine(out, reference), rel_l2(out.to(DType::F32), reference)};
}

std::ostream& operator<<(std::ostream& os, const Accuracy& a) {
  return os << "cosine " << a.cosine << ", rel-L2 " << a.rel_l2;
}

// q, k, v as a DiT's self-attention sees them (test_util's randn_with_channel_offsets; on pure
// N(0, 1) v with flat attention E4M3's step alone gives rel-L2 ~3.7%, see ZeroMeanNoise below).
struct Inputs {
  Tensor q, k, v;
};

Inputs dit_like(int64_t B, int64_t S, int64_t H, int64_t D) {
  return {testing::randn_with_channel_offsets({B, S, H, D}),
          testing::randn_with_channel_offsets({B, S, H, D}),
          testing::randn_with_channel_offsets({B, S, H, D})};
}

TEST(SageAttention, MatchesDenseAttentionAtOddShapes) {
  for (int64_t D : {64, 128}) {
    for (int64_t S : {77, 200, 333}) {
      const Inputs in = dit_like(2, S, 3, D);
      const float scale = 1.f / std::sqrt(float(D));
      const Accuracy a =
          accuracy(ops::sage_attention(in.q, in.k, in.v, scale), dense(in.q, in.k, in.v, scale));
      EXPECT_GE(a.cosine, 0.999) << "S " << S << " D " << D << ": " << a;
      EXPECT_LE(a.rel_l2, 3e-2) << "S " << S << " D " << D << ": " << a;
    }
  }
}

// The P̃ and l rules on one query row over one key block: key 0 on top, the other 127 keys 7.085
// base-2 units below it (P̃ = 448 and x ≈ 3.3, which E4M3 rounds to 3.25). V channel 0 is 448 on
// key 0 only, so O[0] = 448·448 / l gives l; channel 1 is 448 on every key, so O[1] = 448·ΣP̃_fp8 /
// l, which is 448 only if l summed the rounded P̃. The contract sums the unrounded ones.
TEST(SageAttention, RowSumTakesTheUnroundedPAndPvTheRoundedOnes) {
  const int64_t D = 64, S = 128;
  Tensor q = Tensor::zeros({1, 1, 1, D}, DType::F32), k = Tensor::zeros({1, S, 1, D}, DType::F32),
         v = Tensor::zeros({1, S, 1, D}, DType::F32);
  q.data<float>()[0] = 1.f;
  k.data<float>()[0] = 7.085f / 1.4426950f;  // the base-2 gap with scale 1
  v.data<float>()[0] = 448.f;
  for (int64_t j = 0; j < S; ++j) v.data<float>()[j * D + 1] = 448.f;
  const Tensor out = ops::sage_attention(q, k, v, 1.f);
  const double l = 448.0 * 448.0 / out.data<float>()[0];
  const double x = (l - 448.0) / 127;  // the unrounded P̃ of keys 1..127
  ASSERT_NEAR(x, 3.3, 0.05) << "the logit gap did not come out as built";
  const double pv = 448.0 + 127 * double(e4m3_to_f32(f32_to_e4m3(float(x))));
  EXPECT_NEAR(out.data<float>()[1], 448.0 * pv / l, 448.0 * 1e-5);
  EXPECT_LT(out.data<float>()[1], 448.0 * 0.995) << "l summed the rounded P̃";
}

// The softmax block is part of the contract: one query row, keys 0..127 at one logit and key 64
// 7.085 base-2 units above them. V channel 0 is 448 on key 0 only, channel 1 448 on key 64 only,
// so O[0] / O[1] = (key 0's weight in P̃·V) / 448. With blocks of 128, key 0's P̃ is x = 448 ·
// 2^-7.085 ≈ 3.2996 against the block's max, rounded to E4M3's 3.25. With the portable kernel's
// blocks of 64, key 0 is the max of its block (P̃ = 448, exact), scaled by 2^-7.085 in f32 when
// key 64 raises the max: x unrounded. (K's INT8 keeps the gap exact: key 0 and key 64 share a
// group, and after smoothing they sit at −1 and 127 steps of max / 127.)
TEST(SageAttention, TheSoftmaxBlockDecidesWhichMaxPIsRoundedAgainst) {
  const int64_t D = 64, S = 128;
  const float gap = 7.085f;
  Tensor q = Tensor::zeros({1, 1, 1, D}, DType::F32), k = Tensor::zeros({1, S, 1, D}, DType::F32),
         v = Tensor::zeros({1, S, 1, D}, DType::F32);
  q.data<float>()[0] = 1.f;
  k.data<float>()[64 * D] = gap / 1.4426950f;  // the base-2 gap with scale 1
  v.data<float>()[0] = 448.f;
  v.data<float>()[64 * D + 1] = 448.f;
  const double x = 448.0 * std::exp2(-double(gap));
  ASSERT_GT(std::fabs(x - e4m3_to_f32(f32_to_e4m3(float(x)))), 0.01 * x) << "x is an E4M3 value";
  const auto key0_weight = [&](SageRecipe recipe) {
    const Tensor out = ops::cpu::sage_attention(q, k, v, 1.f, recipe);
    return 448.0 * out.data<float>()[0] / out.data<float>()[1];
  };
  EXPECT_NEAR(key0_weight({kSageKeyBlock, SagePvFormat::E4m3}), e4m3_to_f32(f32_to_e4m3(float(x))),
              1e-4);
  EXPECT_NEAR(key0_weight({kSagePortableSoftmaxBlock, SagePvFormat::E4m3}), x, 1e-4 * x);
  // The FP16 recipe rounds the same P̃ to FP16: 3.2996 to a step of 2^-9, not E4M3's 0.25; in
  // the portable kernel's blocks of 64, key 0's P̃ is 448 (an FP16 value) scaled in f32: x.
  const double x_f16 = f16_to_f32(f32_to_f16(float(x)));
  ASSERT_GT(std::fabs(x_f16 - x), 1e-5) << "x is an FP16 value";
  EXPECT_NEAR(key0_weight({kSageKeyBlock, SagePvFormat::F16}), x_f16, 1e-6 * x);
  EXPECT_NEAR(key0_weight(sage_recipe(SageKernel::PortableF16)), x, 1e-6 * x);
}

// With at most 64 keys the two blocks are one and the same; on DiT-like inputs the two contracts
// differ in P̃'s roundings only, and both stay as close to dense attention as the issue asks.
TEST(SageAttention, PortableSoftmaxBlocksMoveOnlyRoundings) {
  for (int64_t S : {50, 333}) {
    const Inputs in = dit_like(2, S, 3, 128);
    const float scale = 1.f / std::sqrt(128.f);
    const Tensor wide = ops::cpu::sage_attention(in.q, in.k, in.v, scale);
    const Tensor half =
        ops::cpu::sage_attention(in.q, in.k, in.v, scale, sage_recipe(SageKernel::PortableFp8));
    if (S <= kSagePortableSoftmaxBlock) {
      EXPECT_EQ(std::memcmp(wide.data<float>(), half.data<float>(), size_t(wide.numel()) * 4), 0);
      continue;
    }
    EXPECT_GT(rel_l2(half, wide), 0.0) << "S " << S << ": the blocks of 64 changed nothing";
    EXPECT_LE(rel_l2(half, wide), 1e-2) << "S " << S;
    const Accuracy a = accuracy(half, dense(in.q, in.k, in.v, scale));
    EXPECT_GE(a.cosine, 0.999) << "S " << S << ": " << a;
    EXPECT_LE(a.rel_l2, 3e-2) << "S " << S << ": " << a;
  }
}

// The FP16 recipe (the portable kernel's on A100s): V and P̃ with 11 bits instead of 4, so on
// zero-mean noise, where E4M3's step dominates the error (ZeroMeanNoiseStaysWithinE4m3sStep), it
// is at least twice as close to dense attention (measured: rel-L2 1.1% against 3.6%; the rest is
// Q·Kᵀ's INT8); V's values are f16(v / scale), exactly.
TEST(SageAttention, Fp16RecipeKeepsElevenBitsOfPAndV) {
  const int64_t S = 200, D = 128;
  const Tensor q = testing::randn({2, S, 3, D}), k = testing::randn({2, S, 3, D}),
               v = testing::randn({2, S, 3, D});
  const float scale = 1.f / std::sqrt(float(D));
  const Tensor reference = dense(q, k, v, scale);
  const Accuracy e4m3 = accuracy(ops::cpu::sage_attention(q, k, v, scale), reference);
  const Accuracy f16 = accuracy(
      ops::cpu::sage_attention(q, k, v, scale, sage_recipe(SageKernel::PortableF16)), reference);
  EXPECT_LT(f16.rel_l2, e4m3.rel_l2 / 2) << "FP16 " << f16 << ", E4M3 " << e4m3;
  EXPECT_GE(f16.cosine, 0.9999) << f16;

  const SageV quantized = ops::cpu::sage_quantize_v(v, SagePvFormat::F16);
  ASSERT_EQ(quantized.values.dtype(), DType::F16);
  const float* vs = v.data<float>();
  const float* sc = quantized.scales.data<float>();
  const uint16_t* bits = quantized.values.data<uint16_t>();
  for (int64_t i = 0; i < v.numel(); i += 97) {
    const int64_t b = i / (S * 3 * D), hd = i % (3 * D);
    ASSERT_EQ(bits[i], f32_to_f16(vs[i] / sc[b * 3 * D + hd])) << "element " << i;
  }
}

TEST(SageAttention, RefusesOtherSoftmaxBlocksNamingThem) {
  const Inputs in = dit_like(1, 70, 1, 64);
  try {
    ops::cpu::sage_attention(in.q, in.k, in.v, 0.125f, {32, SagePvFormat::E4m3});
    FAIL() << "a softmax block of 32 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("softmax block must be 128 keys, or 64"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("got 32"), std::string::npos) << e.what();
  }
  for (const auto& [kernel, block, pv] :
       {std::tuple{SageKernel::Hopper, kSageKeyBlock, SagePvFormat::E4m3},
        std::tuple{SageKernel::PortableFp8, kSagePortableSoftmaxBlock, SagePvFormat::E4m3},
        std::tuple{SageKernel::PortableF16, kSagePortableSoftmaxBlock, SagePvFormat::F16}}) {
    EXPECT_EQ(sage_recipe(kernel).softmax_block, block);
    EXPECT_EQ(sage_recipe(kernel).pv, pv);
  }
  EXPECT_THROW(sage_recipe(SageKernel::Automatic), Error);
}

TEST(SageAttention, ZeroMeanNoiseStaysWithinE4m3sStep) {
  // Pure N(0, 1) q, k, v: no structure for the averaging to keep, so the output's error is E4M3's
  // relative rounding of P̃ and of v (≈2.6% rms each). Still well correlated.
  const int64_t S = 200, D = 128;
  const Tensor q = testing::randn({2, S, 3, D}), k = testing::randn({2, S, 3, D}),
               v = testing::randn({2, S, 3, D});
  const float scale = 1.f / std::sqrt(float(D));
  const Accuracy a = accuracy(ops::sage_attention(q, k, v, scale), dense(q, k, v, scale));
  EXPECT_GE(a.cosine, 0.998) << a;
  EXPECT_LE(a.rel_l2, 5e-2) << a;
}

TEST(SageAttention, BfloatInputsGiveBfloatOutputsOfTheSameAccuracy) {
  const Inputs in = dit_like(1, 150, 2, 64);
  const Tensor qb = in.q.to(DType::BF16), kb = in.k.to(DType::BF16), vb = in.v.to(DType::BF16);
  const Tensor out = ops::sage_attention(qb, kb, vb, 0.125f);
  EXPECT_EQ(out.dtype(), DType::BF16);
  const Accuracy a =
      accuracy(out, dense(qb.to(DType::F32), kb.to(DType::F32), vb.to(DType::F32), 0.125f));
  EXPECT_GE(a.cosine, 0.999) << a;
  EXPECT_LE(a.rel_l2, 3e-2) << a;
}

// K smoothing at work: a bias of 20 on one channel of K for every token (the outlier SageAttention
// smooths away) changes no softmax row in exact arithmetic. With smoothing the op's output barely
// moves and stays accurate; INT8 of the unsmoothed K loses the other channels to the outlier's
// scale.
TEST(SageAttention, KSmoothingRemovesAChannelBiasOutlier) {
  const int64_t B = 2, S = 333, H = 3, D = 128;
  const Inputs in = dit_like(B, S, H, D);
  Tensor k_biased = in.k.clone();
  for (int64_t i = 0; i < k_biased.numel(); ++i)
    if (i % D == 17) k_biased.data<float>()[i] += 20.f;
  const float scale = 1.f / std::sqrt(float(D));
  const Tensor reference = dense(in.q, in.k, in.v, scale);
  const Tensor plain = ops::sage_attention(in.q, in.k, in.v, scale);
  const Tensor biased = ops::sage_attention(in.q, k_biased, in.v, scale);
  const Accuracy a = accuracy(biased, reference);
  EXPECT_GE(a.cosine, 0.999) << a;
  EXPECT_LE(a.rel_l2, 3e-2) << a;
  // Smoothing cancels the bias up to the f32 rounding of k + 20 (usually exactly).
  const double smoothed_moved = rel_l2(biased, plain);
  EXPECT_LE(smoothed_moved, 1e-3) << "the bias moved the smoothed output";

  const Tensor unsmoothed = ops::cpu::sage_attention_quantized(
      ops::cpu::sage_quantize_int8(in.q, SageInt8Grouping::Query, sage_q_multiplier(scale)),
      ops::cpu::sage_quantize_int8(k_biased, SageInt8Grouping::Key),
      ops::cpu::sage_quantize_v(in.v));
  const Accuracy u = accuracy(unsmoothed, reference);
  const double unsmoothed_moved = rel_l2(unsmoothed, plain);  // measured ~1e-2
  EXPECT_GE(unsmoothed_moved, std::max(5e-3, 10 * smoothed_moved))
      << "unsmoothed INT8 should lose precision to the outlier's scale";
  EXPECT_GE(u.rel_l2, 1.3 * a.rel_l2) << "unsmoothed " << u << " vs smoothed " << a;
}

// ×20 q, k, v: base-2 logits in the thousands (INT8's absolute logit error grows with them, so
// near-ties among the top keys may swap: the issue asks for no NaN here, not accuracy). Every
// output stays a weighted mean of v: within each channel's max|v| up to P̃'s E4M3 step.
TEST(SageAttention, TwentyTimesLargerInputsStayFiniteAndBounded) {
  const int64_t B = 2, S = 200, H = 3, D = 128;
  const Inputs in = dit_like(B, S, H, D);
  Tensor q = in.q.clone(), k = in.k.clone(), v = in.v.clone();
  for (Tensor* t : {&q, &k, &v})
    for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] *= 20.f;
  const Tensor out = ops::sage_attention(q, k, v, 1.f / std::sqrt(float(D)));
  ASSERT_TRUE(ops::all_finite(out));
  std::vector<float> vmax(size_t(B * H * D), 0.f);
  for (int64_t i = 0; i < v.numel(); ++i) {
    const int64_t b = i / (S * H * D), hd = i % (H * D);
    float& m = vmax[size_t(b * H * D + hd)];
    m = std::max(m, std::fabs(v.data<float>()[i]));
  }
  for (int64_t i = 0; i < out.numel(); ++i) {
    const int64_t b = i / (S * H * D), hd = i % (H * D);
    ASSERT_LE(std::fabs(out.data<float>()[i]), vmax[size_t(b * H * D + hd)] * (1 + 1.f / 16))
        << "element " << i;
  }
}

TEST(SageAttention, RefusesOtherHeadDimsAndTypesNamingThem) {
  const Tensor x = testing::randn({1, 40, 2, 96});
  std::string m = error_of([&] { ops::sage_attention(x, x, x, 0.1f); });
  EXPECT_TRUE(contains(m, "got head_dim 96")) << m;
  const Tensor i = Tensor::zeros({1, 40, 2, 64}, DType::I32);
  m = error_of([&] { ops::sage_attention(i, i, i, 0.1f); });
  EXPECT_TRUE(contains(m, "F32 or BF16")) << m;
}

// ---------------------------------------------------------------------------------------------
// Which GPU kernel runs where (sage_kernel_for is pure: no GPU needed)

TEST(SageKernelChoice, HopperOnH200Fp8OnL40sFp16OnA100) {
  EXPECT_EQ(sage_kernel_for(9, 0), SageKernel::Hopper);       // H100, H200
  EXPECT_EQ(sage_kernel_for(8, 9), SageKernel::PortableFp8);  // L40S, RTX 4090
  EXPECT_EQ(sage_kernel_for(8, 0), SageKernel::PortableF16);  // A100
  EXPECT_EQ(sage_kernel_for(8, 6), SageKernel::PortableF16);  // RTX 3090, A40
  EXPECT_EQ(sage_kernel_for(8, 7), SageKernel::PortableF16);  // Jetson Orin
}

TEST(SageKernelChoice, AKernelAskedForByNameRunsWhereItsInstructionsExist) {
  // An H200 runs all three (the portable ones for tests), an L40S both portable ones, an A100 the
  // FP16 one.
  for (SageKernel k : {SageKernel::Hopper, SageKernel::PortableFp8, SageKernel::PortableF16})
    EXPECT_EQ(sage_kernel_for(9, 0, k), k);
  EXPECT_EQ(sage_kernel_for(8, 9, SageKernel::PortableFp8), SageKernel::PortableFp8);
  EXPECT_EQ(sage_kernel_for(8, 9, SageKernel::PortableF16), SageKernel::PortableF16);
  EXPECT_EQ(sage_kernel_for(8, 0, SageKernel::PortableF16), SageKernel::PortableF16);
  std::string m = error_of([] { sage_kernel_for(8, 9, SageKernel::Hopper, "NVIDIA L40S"); });
  EXPECT_TRUE(contains(m, "Hopper") && contains(m, "NVIDIA L40S is sm_89")) << m;
  m = error_of([] { sage_kernel_for(8, 0, SageKernel::PortableFp8, "NVIDIA A100"); });
  EXPECT_TRUE(contains(m, "FP8") && contains(m, "NVIDIA A100 is sm_80")) << m;
  m = error_of([] { sage_kernel_for(8, 6, SageKernel::PortableFp8); });
  EXPECT_TRUE(contains(m, "sm_86")) << m;
}

TEST(SageKernelChoice, RefusesT4AndBlackwellNamingTheirComputeCapability) {
  for (SageKernel k : {SageKernel::Automatic, SageKernel::Hopper, SageKernel::PortableFp8,
                       SageKernel::PortableF16}) {
    std::string m = error_of([&] { sage_kernel_for(7, 5, k, "Tesla T4"); });
    EXPECT_TRUE(contains(m, "Tesla T4 is sm_75")) << m;
    m = error_of([&] { sage_kernel_for(10, 0, k, "NVIDIA B200"); });
    EXPECT_TRUE(contains(m, "NVIDIA B200 is sm_100") && contains(m, "sm_90a")) << m;
    m = error_of([&] { sage_kernel_for(12, 0, k, "RTX 5090"); });
    EXPECT_TRUE(contains(m, "RTX 5090 is sm_120")) << m;
  }
}

// ---------------------------------------------------------------------------------------------
// The backend

const AttentionBackend& sage() {
  return AttentionBackendRegistry::builtin().get("SAGE_ATTN", "test");
}

TEST(SageAttnBackend, RunsOnTheCpuAndSm80ToSm90AndRefusesOtherGpusNamingThem) {
  EXPECT_TRUE(sage().status(AttentionDevice::cpu()).available());
#ifdef FASTVIDEO_HAVE_CUDA
  const AttentionBackendStatus h200 = sage().status(AttentionDevice::gpu(0, "NVIDIA H200", {9, 0}));
  EXPECT_TRUE(h200.available()) << h200.reason;
  EXPECT_TRUE(contains(h200.reason, "Hopper kernel")) << h200.reason;
  const AttentionBackendStatus l40s = sage().status(AttentionDevice::gpu(0, "NVIDIA L40S", {8, 9}));
  EXPECT_TRUE(l40s.available()) << l40s.reason;
  EXPECT_TRUE(contains(l40s.reason, "E4M3 mma.sync P·V")) << l40s.reason;
  const AttentionBackendStatus a100 = sage().status(AttentionDevice::gpu(0, "NVIDIA A100", {8, 0}));
  EXPECT_TRUE(a100.available()) << a100.reason;
  EXPECT_TRUE(contains(a100.reason, "FP16 mma.sync P·V")) << a100.reason;
  const std::string t4 = error_of([&] {
    select_attention_backends("SAGE_ATTN", std::nullopt,
                              AttentionDevice::gpu(0, "Tesla T4", {7, 5}), {128, DType::BF16});
  });
  EXPECT_TRUE(contains(t4, "Tesla T4")) << t4;
  EXPECT_TRUE(contains(t4, "sm_80 .. sm_90")) << t4;
  const AttentionBackendStatus b200 =
      sage().status(AttentionDevice::gpu(0, "NVIDIA B200", {10, 0}));
  EXPECT_EQ(b200.kind, AttentionBackendStatus::Kind::NotInThisVersion);
  EXPECT_TRUE(contains(b200.reason, "NVIDIA B200")) << b200.reason;
  EXPECT_TRUE(contains(b200.reason, "SAGE_ATTN_THREE")) << b200.reason;
#else
  const AttentionBackendStatus h200 = sage().status(AttentionDevice::gpu(0, "NVIDIA H200", {9, 0}));
  EXPECT_EQ(h200.kind, AttentionBackendStatus::Kind::NotInThisVersion);
  EXPECT_TRUE(contains(h200.reason, "no CUDA backend")) << h200.reason;
#endif
  const Tensor q = testing::randn({1, 130, 2, 128}), k = testing::randn({1, 130, 2, 128}),
               v = testing::randn({1, 130, 2, 128});
  EXPECT_EQ(sage().build_metadata({}).get(), nullptr) << "the scales come from each call";
  EXPECT_EQ(rel_l2(sage().run(q, k, v, 0.09f), ops::sage_attention(q, k, v, 0.09f)), 0.0);
}

TEST(SageAttnBackend, IsChosenByNameOnlyAndForSelfAttentionOnly) {
  ::unsetenv(kAttentionBackendEnv);
  const AttentionDevice cpu = AttentionDevice::cpu();
  const AttentionLayerShape wan{128, DType::F32};
  EXPECT_FALSE(sage().chosen_automatically_on(cpu));
  EXPECT_NE(select_attention_backends("", std::nullopt, cpu, wan).self->name(), "SAGE_ATTN");
  const AttentionSelection by_name = select_attention_backends("sage_attn", std::nullopt, cpu, wan);
  EXPECT_EQ(by_name.self->name(), "SAGE_ATTN");
  EXPECT_EQ(by_name.cross->name(), "TORCH_SDPA");
  EXPECT_EQ(by_name.text_encoder->name(), "TORCH_SDPA");
  EXPECT_EQ(by_name.vae->name(), "TORCH_SDPA");
  EXPECT_EQ(select_attention_backends("", "SAGE_ATTN", cpu, wan).self->name(), "SAGE_ATTN");
  EXPECT_FALSE(sage().capabilities().cross_attention);

  std::string m = error_of([&] {
    select_attention_backends("SAGE_ATTN", std::nullopt, cpu, {96, DType::F32});
  });
  EXPECT_TRUE(
      contains(m, "SAGE_ATTN (from the attention_backend option) does not support head_dim 96"))
      << m;
  const Tensor q = testing::randn({1, 48, 2, 128}), text = testing::randn({1, 512, 2, 128});
  m = error_of([&] { sage().run(q, text, text, 0.09f); });
  EXPECT_TRUE(contains(m, "self-attention only: q has 48 tokens but k has 512")) << m;
  const Tensor q80 = testing::randn({1, 48, 2, 80});
  m = error_of([&] { sage().run(q80, q80, q80, 0.1f); });
  EXPECT_TRUE(contains(m, "got head_dim 80")) << m;
}

// The tiny Wan model (head_dim 128) on the CPU with SAGE_ATTN for its self-attention: finite
// latents and frames, the backend in the recorded parameters, and close to the dense run.
TEST(SageAttnBackend, RunsATinyGenerationOnTheCpu) {
  ::unsetenv(kAttentionBackendEnv);
  auto generate = [](const std::string& backend) {
    GeneratorOptions options;
    options.device = "cpu";
    options.attention_backend = backend;
    VideoGenerator gen = VideoGenerator::from_pretrained(testing::tiny_model_dir(), options);
    GenerationRequest request;
    request.prompt = "A red fox runs through fresh snow at dawn.";
    request.seed = 5;
    request.num_inference_steps = 3;
    return gen.generate(request);
  };
  const GenerationResult sage_run = generate("SAGE_ATTN");
  const GenerationResult dense_run = generate("TORCH_SDPA");
  ASSERT_FALSE(sage_run.final_latents.empty());
  for (float x : sage_run.final_latents) ASSERT_TRUE(std::isfinite(x));
  EXPECT_EQ(sage_run.rgb.size(), size_t(sage_run.frames) * sage_run.height * sage_run.width * 3);
  EXPECT_GT(sage_run.frames, 0);
  bool recorded = false;
  for (const auto& [key, value] : sage_run.parameters)
    recorded = recorded || (key == "attention_backend_self" && value == "SAGE_ATTN");
  EXPECT_TRUE(recorded) << "attention_backend_self is not SAGE_ATTN in the parameters";
  const Shape shape(sage_run.latent_shape.begin(), sage_run.latent_shape.end());
  const Tensor a = Tensor::from_vector(sage_run.final_latents, shape);
  const Tensor b = Tensor::from_vector(dense_run.final_latents, shape);
  EXPECT_LE(rel_l2(a, b), 2e-2) << "SAGE_ATTN's latents drift from TORCH_SDPA's";
}

}  // namespace
}  // namespace fastvideo
