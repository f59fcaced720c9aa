// The VAE's channels-first ops (conv3d, concat; and the tests' reference conv2d, nearest ×2 and
// channel RMS norm of vae_reference_ops.h) against naive double-precision loops on fresh random
// data with odd sizes (DESIGN §3: ≤ 1e-6).
#include "ops/conv.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/tensor_ops.h"
#include "test_util.h"
#include "vae_reference_ops.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

// Direct definition: y[b,o,t,h,w] = bias[o] + Σ x[b,c,t+dt-pf,h+dh-ph,w+dw-pw]·w[o,c,dt,dh,dw],
// reading zero outside the input.
Tensor naive_conv3d(const Tensor& x, const Tensor& w, const Tensor& bias, int pf, int pb, int ph,
                    int pw) {
  const int B = int(x.size(0)), C = int(x.size(1)), T = int(x.size(2)), H = int(x.size(3)),
            W = int(x.size(4));
  const int O = int(w.size(0)), kt = int(w.size(2)), kh = int(w.size(3)), kw = int(w.size(4));
  const int To = T + pf + pb - kt + 1, Ho = H + 2 * ph - kh + 1, Wo = W + 2 * pw - kw + 1;
  Tensor y = Tensor::empty({B, O, To, Ho, Wo}, DType::F32);
  auto px = x.f32(), pwt = w.f32(), py = y.f32();
  for (int b = 0; b < B; ++b)
    for (int o = 0; o < O; ++o)
      for (int t = 0; t < To; ++t)
        for (int h = 0; h < Ho; ++h)
          for (int v = 0; v < Wo; ++v) {
            double acc = bias.defined() ? bias.f32()[o] : 0.0;
            for (int c = 0; c < C; ++c)
              for (int dt = 0; dt < kt; ++dt)
                for (int dh = 0; dh < kh; ++dh)
                  for (int dw = 0; dw < kw; ++dw) {
                    const int ti = t + dt - pf, hi = h + dh - ph, wi = v + dw - pw;
                    if (ti < 0 || ti >= T || hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                    acc += double(px[(((b * C + c) * T + ti) * H + hi) * W + wi]) *
                           pwt[(((o * C + c) * kt + dt) * kh + dh) * kw + dw];
                  }
            py[(((b * O + o) * To + t) * Ho + h) * Wo + v] = float(acc);
          }
  return y;
}

TEST(Conv, Conv3dMatchesDirectSumWithCausalAndSpatialPadding) {
  Tensor x = randn({2, 5, 4, 7, 9}), w = randn({6, 5, 3, 3, 3}), b = randn({6});
  Tensor y = ops::conv3d(x, w, b, {2, 0, 1, 1});
  Tensor ref = naive_conv3d(x, w, b, 2, 0, 1, 1);
  ASSERT_EQ(y.shape(), ref.shape());
  EXPECT_LT(rel_l2(y, ref), 1e-6);
}

TEST(Conv, Conv3dMatchesDirectSumWithUnevenKernelAndPadding) {
  Tensor x = randn({1, 3, 5, 6, 5}), w = randn({4, 3, 2, 3, 1}), b = randn({4});
  Tensor y = ops::conv3d(x, w, b, {1, 2, 2, 0});
  EXPECT_LT(rel_l2(y, naive_conv3d(x, w, b, 1, 2, 2, 0)), 1e-6);
  Tensor no_bias = ops::conv3d(x, w, {}, {0, 0, 0, 0});
  EXPECT_LT(rel_l2(no_bias, naive_conv3d(x, w, {}, 0, 0, 0, 0)), 1e-6);
}

TEST(Conv, Conv3dPointwiseMatchesChannelMix) {
  Tensor x = randn({2, 7, 3, 5, 11}), w = randn({5, 7, 1, 1, 1}), b = randn({5});
  EXPECT_LT(rel_l2(ops::conv3d(x, w, b), naive_conv3d(x, w, b, 0, 0, 0, 0)), 1e-6);
}

TEST(Conv, Conv3dTilesLargeFramesLikeOneGemm) {
  // 9·27·(h·w) columns exceed one im2col tile, so the tiled path is exercised.
  Tensor x = randn({1, 9, 2, 181, 201}), w = randn({3, 9, 3, 3, 3}), b = randn({3});
  EXPECT_LT(rel_l2(ops::conv3d(x, w, b, {2, 0, 1, 1}), naive_conv3d(x, w, b, 2, 0, 1, 1)), 1e-6);
}

TEST(Conv, Conv2dMatchesDirectSum) {
  Tensor x = randn({3, 4, 7, 5}), w = randn({5, 4, 3, 3}), b = randn({5});
  Tensor y = testing::conv2d(x, w, b, 1, 1);
  Tensor ref = naive_conv3d(x.unsqueeze(2), w.unsqueeze(2), b, 0, 0, 1, 1);
  ASSERT_EQ(y.shape(), (Shape{3, 5, 7, 5}));
  EXPECT_LT(rel_l2(y, ref.reshape({3, 5, 7, 5})), 1e-6);
}

TEST(Conv, UpsampleNearest2xDuplicatesEachPixel) {
  Tensor x = randn({2, 3, 2, 5, 7});
  Tensor y = testing::upsample_nearest2x(x);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 2, 10, 14}));
  auto px = x.f32(), py = y.f32();
  int64_t mismatches = 0;
  for (int64_t p = 0; p < 12; ++p)
    for (int64_t h = 0; h < 10; ++h)
      for (int64_t w = 0; w < 14; ++w)
        mismatches += py[(p * 10 + h) * 14 + w] != px[(p * 5 + h / 2) * 7 + w / 2];
  EXPECT_EQ(mismatches, 0);
}

TEST(Conv, ConcatJoinsAlongAnyDimIncludingStridedViews) {
  Tensor a = randn({2, 3, 4}), b = randn({2, 5, 4});
  Tensor bt = randn({2, 4, 5}).transpose(1, 2);  // non-contiguous input
  std::vector<Tensor> parts{a, b, bt};
  Tensor y = ops::concat(parts, 1);
  ASSERT_EQ(y.shape(), (Shape{2, 13, 4}));
  Tensor btc = bt.contiguous();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 13; ++j)
      for (int64_t k = 0; k < 4; ++k) {
        const float want = j < 3   ? a.f32()[(i * 3 + j) * 4 + k]
                           : j < 8 ? b.f32()[(i * 5 + j - 3) * 4 + k]
                                   : btc.f32()[(i * 5 + j - 8) * 4 + k];
        mismatches += y.f32()[(i * 13 + j) * 4 + k] != want;
      }
  EXPECT_EQ(mismatches, 0);
}

TEST(Conv, ChannelRmsNormMatchesNormalizeTimesSqrtCTimesGamma) {
  Tensor x = randn({2, 7, 3, 5, 3}, 2.5f), gamma = randn({7, 1, 1, 1});
  Tensor y = testing::rms_norm_channels(x, gamma);
  Tensor ref = Tensor::empty(x.shape(), DType::F32);
  const int64_t S = 45;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t s = 0; s < S; ++s) {
      double ss = 0;
      for (int64_t c = 0; c < 7; ++c) ss += std::pow(double(x.f32()[(b * 7 + c) * S + s]), 2);
      const double inv = std::sqrt(7.0) / std::max(std::sqrt(ss), 1e-12);
      for (int64_t c = 0; c < 7; ++c)
        ref.f32()[(b * 7 + c) * S + s] = float(x.f32()[(b * 7 + c) * S + s] * inv * gamma.f32()[c]);
    }
  EXPECT_LT(rel_l2(y, ref), 1e-6);
  // A zero vector stays zero (the 1e-12 floor), not NaN.
  EXPECT_LT(rel_l2(testing::rms_norm_channels(Tensor::zeros({1, 7, 2}, DType::F32), gamma),
                   Tensor::zeros({1, 7, 2}, DType::F32)),
            1e-6);
}

}  // namespace
}  // namespace fastvideo
