// The channels-last ops (ops/channels_last.h) on the CPU against the channels-first ones
// (ops::conv3d, and the tests' reference ops of vae_reference_ops.h) on the same data permuted:
// the same numbers (the decoder's CPU goldens rely on it), and the refusals.
#include "ops/channels_last.h"

#include <gtest/gtest.h>

#include "ops/elementwise.h"
#include "test_util.h"
#include "vae_reference_ops.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

// [B, T, H, W, C] <-> [B, C, T, H, W]
Tensor to_first(const Tensor& x) { return x.permute({0, 4, 1, 2, 3}).contiguous(); }
Tensor to_last(const Tensor& x) { return x.permute({0, 2, 3, 4, 1}).contiguous(); }

TEST(ChannelsLast, Conv3dIsTheChannelsFirstConvPermuted) {
  const Tensor x = randn({2, 4, 6, 7, 5}), w = randn({3, 5, 3, 3, 3}), b = randn({3});
  for (const ops::Conv3dPadding pad : {ops::Conv3dPadding{2, 0, 1, 1}, ops::Conv3dPadding{}}) {
    const Tensor want = ops::conv3d(to_first(x), w, b, pad);
    const Tensor got = ops::conv3d_ndhwc(x, ops::channels_last_weight(w), b, pad);
    EXPECT_EQ(rel_l2(to_first(got), want), 0.0);
  }
  EXPECT_TRUE(testing::contains(testing::error_of([&] {
                                  ops::channels_last_weight(randn({3, 5}));
                                }),
                                "expected [O, C, kt, kh, kw]"));
}

TEST(ChannelsLast, NormsAndUpsamplingAreTheChannelsFirstOnesPermuted) {
  const Tensor x = randn({1, 3, 4, 5, 24}), gamma = randn({24, 1, 1, 1});
  EXPECT_EQ(rel_l2(to_first(ops::rms_norm_ndhwc(x, gamma)),
                   testing::rms_norm_channels(to_first(x), gamma)),
            0.0);
  EXPECT_EQ(rel_l2(to_first(ops::rms_norm_silu_ndhwc(x, gamma)),
                   ops::silu(testing::rms_norm_channels(to_first(x), gamma))),
            0.0);
  EXPECT_EQ(
      rel_l2(ops::upsample_nearest2x_ndhwc(x), to_last(testing::upsample_nearest2x(to_first(x)))),
      0.0);
  EXPECT_TRUE(testing::contains(testing::error_of([&] { ops::rms_norm_ndhwc(x, randn({23})); }),
                                "expected 24"));
}

// A convolution's bias left to the op after it: the norm adds it before its statistics, the
// residual add with the shortcut, each as the biased tensor would give.
TEST(ChannelsLast, BiasFusedIntoTheNextOpIsTheBiasAddedFirst) {
  const Tensor x = randn({2, 3, 4, 24}), gamma = randn({24}), bias = randn({24}),
               residual = randn({2, 3, 4, 24});
  Tensor biased = x.clone();
  for (int64_t i = 0; i < biased.numel(); ++i) biased.f32()[i] += bias.f32()[i % 24];
  EXPECT_EQ(
      rel_l2(ops::rms_norm_silu_ndhwc(x, gamma, bias), ops::rms_norm_silu_ndhwc(biased, gamma)),
      0.0);
  EXPECT_EQ(rel_l2(ops::add_bias_residual_ndhwc(x, bias, residual), ops::add(biased, residual)),
            0.0);
  EXPECT_TRUE(
      testing::contains(testing::error_of([&] { ops::rms_norm_silu_ndhwc(x, gamma, randn({23})); }),
                        "rms_norm_ndhwc: bias"));
  EXPECT_TRUE(testing::contains(
      testing::error_of([&] { ops::add_bias_residual_ndhwc(x, randn({23}), residual); }),
      "expected 24"));
  EXPECT_TRUE(testing::contains(testing::error_of([&] {
                                  ops::add_bias_residual_ndhwc(x, bias, randn({2, 3, 24}));
                                }),
                                "does not match"));
}

}  // namespace
}  // namespace fastvideo
