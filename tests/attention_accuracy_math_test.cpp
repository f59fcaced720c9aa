// The host arithmetic of `fastvideo bench attention --accuracy` (bench/attention_accuracy_math.h),
// which the bench itself cannot check without a GPU: the query-row sample, the double reference
// against test_util's definition-level attention, the metrics and the bar, and the two derived
// input cases (K channel-bias outlier, ×20).
#include "attention_accuracy_math.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "test_util.h"

namespace fastvideo::bench {
namespace {

using testing::error_of;

// Values a backend could be given: random, rounded to bf16, widened back to f32.
Tensor bf16_randn(Shape shape, float stddev = 1.0f) {
  return testing::randn(std::move(shape), stddev).to(DType::BF16).to(DType::F32);
}

TEST(EvenlySpacedRows, SpreadsTheWanSampleOverEveryStretch) {
  const std::vector<int64_t> rows = evenly_spaced_rows(32760, 256);
  ASSERT_EQ(rows.size(), 256u);
  EXPECT_EQ(rows.front(), 63);    // ⌊32760 / 512⌋
  EXPECT_EQ(rows.back(), 32696);  // ⌊511·32760 / 512⌋
  for (size_t i = 1; i < rows.size(); ++i) {
    const int64_t gap = rows[i] - rows[i - 1];
    EXPECT_TRUE(gap == 127 || gap == 128) << "rows " << rows[i - 1] << ", " << rows[i];
  }
}

TEST(EvenlySpacedRows, AreDistinctAscendingAndInRangeForAnyCount) {
  for (int64_t total : {1, 2, 7, 100, 1001, 32760})
    for (int64_t count : {1, 2, 3, 16, 99, 256, 5000}) {
      const std::vector<int64_t> rows = evenly_spaced_rows(total, count);
      ASSERT_EQ(int64_t(rows.size()), std::min(total, count)) << total << " rows, " << count;
      for (size_t i = 0; i < rows.size(); ++i) {
        EXPECT_GE(rows[i], 0);
        EXPECT_LT(rows[i], total);
        if (i > 0) {
          EXPECT_GT(rows[i], rows[i - 1]) << total << " rows, " << count << " sampled";
        }
      }
    }
  EXPECT_NE(error_of([] { evenly_spaced_rows(100, 0); }).find("positive"), std::string::npos);
}

TEST(ReferenceAttentionRows, MatchesTheDefinitionOnTheSampledRows) {
  // Two batches, odd lengths, v's head dim differing from q's, and more than one block of 16
  // sampled rows per (batch, head).
  const int64_t B = 2, Sq = 61, Sk = 37, H = 3, D = 16, Dv = 8;
  const Tensor q = bf16_randn({B, Sq, H, D}), k = bf16_randn({B, Sk, H, D}),
               v = bf16_randn({B, Sk, H, Dv});
  const float scale = 0.3f;
  const std::vector<int64_t> rows = evenly_spaced_rows(Sq, 20);
  const std::vector<double> got = reference_attention_rows(q, k, v, scale, rows);
  const Tensor want = testing::reference_attention(q, k, v, scale);  // f32 [B, Sq, H, Dv]
  ASSERT_EQ(got.size(), size_t(B * 20 * H * Dv));
  const std::vector<double> want_rows = gather_rows(want, rows);
  for (size_t e = 0; e < got.size(); ++e)
    ASSERT_NEAR(got[e], want_rows[e], 1e-6 * (1 + std::fabs(want_rows[e]))) << "element " << e;
}

TEST(ReferenceAttentionRows, StaysFiniteAndExactAtLargeLogits) {
  // Logits in the thousands (the ×20 case squares the factor): the max subtraction keeps every
  // exponential ≤ 1. With one key far ahead, the output is that key's value row.
  const int64_t S = 40, H = 2, D = 8;
  Tensor q = Tensor::full({1, S, H, D}, 10.0f), k = bf16_randn({1, S, H, D}),
         v = bf16_randn({1, S, H, D});
  for (int64_t h = 0; h < H; ++h)
    for (int64_t d = 0; d < D; ++d) k.data<float>()[(5 * H + h) * D + d] = 100.0f;
  const std::vector<int64_t> rows = {0, 17, 39};
  const std::vector<double> got = reference_attention_rows(q, k, v, 1.0f, rows);
  for (size_t r = 0; r < rows.size(); ++r)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d)
        EXPECT_DOUBLE_EQ(got[(r * H + size_t(h)) * D + size_t(d)],
                         v.data<float>()[(5 * H + h) * D + d]);
}

TEST(ReferenceAttentionRows, RefusesRowsOutsideTheSequence) {
  const Tensor t = bf16_randn({1, 4, 1, 8});
  const std::vector<int64_t> rows = {4};
  EXPECT_NE(error_of([&] { reference_attention_rows(t, t, t, 1.0f, rows); }).find("row 4"),
            std::string::npos);
}

TEST(GatherRows, TakesWholeRowsOfEveryHeadInTheReferenceLayout) {
  const Tensor out = testing::randn({2, 5, 3, 4});
  const std::vector<int64_t> rows = {1, 4};
  const std::vector<double> got = gather_rows(out, rows);
  ASSERT_EQ(got.size(), size_t(2 * 2 * 3 * 4));
  for (int64_t b = 0; b < 2; ++b)
    for (size_t r = 0; r < 2; ++r)
      for (int64_t e = 0; e < 12; ++e)
        EXPECT_EQ(got[(size_t(b) * 2 + r) * 12 + size_t(e)],
                  out.data<float>()[(b * 5 + rows[r]) * 12 + e]);
}

TEST(CompareRows, MeasuresDirectionAndDistanceOverAllHeadsAndTheWorstHead) {
  const int64_t heads = 3, dim = 4, rows = 5;
  std::vector<double> ref(size_t(rows * heads * dim));
  for (size_t e = 0; e < ref.size(); ++e) ref[e] = std::sin(double(e) + 0.5);

  AccuracyMetrics same = compare_rows(ref, ref, heads, dim);
  EXPECT_NEAR(same.cosine, 1.0, 1e-15);
  EXPECT_EQ(same.rel_l2, 0.0);
  EXPECT_EQ(same.worst_head_rel_l2, 0.0);

  std::vector<double> doubled = ref;
  for (double& x : doubled) x *= 2;  // same direction, twice as long
  const AccuracyMetrics twice = compare_rows(doubled, ref, heads, dim);
  EXPECT_NEAR(twice.cosine, 1.0, 1e-15);
  EXPECT_NEAR(twice.rel_l2, 1.0, 1e-15);

  // Only head 1 wrong (negated): its rel-L2 is 2, the whole's 2·‖head 1‖ / ‖all‖.
  std::vector<double> one_head = ref;
  double head1 = 0, all = 0;
  for (size_t e = 0; e < ref.size(); ++e) {
    all += ref[e] * ref[e];
    if ((e / dim) % heads == 1) one_head[e] = -ref[e], head1 += ref[e] * ref[e];
  }
  const AccuracyMetrics m = compare_rows(one_head, ref, heads, dim);
  EXPECT_NEAR(m.worst_head_rel_l2, 2.0, 1e-12);
  EXPECT_NEAR(m.rel_l2, 2.0 * std::sqrt(head1 / all), 1e-12);
  EXPECT_NEAR(m.cosine, (all - 2 * head1) / all, 1e-12);
}

TEST(CompareRows, ANanFailsEveryMetricAndTheBar) {
  std::vector<double> ref(24, 1.0), got(24, 1.0);
  got[7] = std::numeric_limits<double>::quiet_NaN();
  const AccuracyMetrics m = compare_rows(got, ref, 2, 4);
  EXPECT_TRUE(std::isnan(m.cosine));
  EXPECT_TRUE(std::isnan(m.rel_l2));
  EXPECT_TRUE(std::isnan(m.worst_head_rel_l2));
  EXPECT_FALSE(meets_accuracy_bar(m, {}));
}

TEST(AccuracyBar, IsIssue10sCosineRelL2AndNoNonFiniteValue) {
  EXPECT_TRUE(meets_accuracy_bar({.cosine = 0.999, .rel_l2 = 3e-2}, {}));
  EXPECT_FALSE(meets_accuracy_bar({.cosine = 0.9989, .rel_l2 = 1e-3}, {}));
  EXPECT_FALSE(meets_accuracy_bar({.cosine = 0.99999, .rel_l2 = 3.1e-2}, {}));
  EXPECT_FALSE(meets_accuracy_bar({.cosine = 1.0, .rel_l2 = 0.0}, {.nan = 0, .inf = 1}));
  EXPECT_FALSE(meets_accuracy_bar({.cosine = 1.0, .rel_l2 = 0.0}, {.nan = 1, .inf = 0}));
}

TEST(CountNonFinite, CountsNanAndInfApart) {
  Tensor t = Tensor::full({2, 3}, 1.0f);
  t.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  t.data<float>()[2] = std::numeric_limits<float>::infinity();
  t.data<float>()[5] = -std::numeric_limits<float>::infinity();
  const NonFiniteCount n = count_non_finite(t);
  EXPECT_EQ(n.nan, 1);
  EXPECT_EQ(n.inf, 2);
  EXPECT_EQ(n.total(), 3);
}

TEST(StandardDeviation, IsThePopulationOne) {
  EXPECT_DOUBLE_EQ(standard_deviation(Tensor::from_vector({1, 2, 3, 4}, {4})), std::sqrt(1.25));
}

TEST(KeyChannelOutlier, AddsTenStdToOneChannelOfEveryHeadAndToken) {
  const int64_t S = 33, H = 3, D = 64;
  const Tensor k = bf16_randn({1, S, H, D}, 0.7f);
  const float bias = float(kKeyOutlierStds * standard_deviation(k));
  const Tensor out = with_key_channel_outlier(k);
  ASSERT_EQ(out.shape(), k.shape());
  for (int64_t row = 0; row < S * H; ++row)
    for (int64_t d = 0; d < D; ++d) {
      const float before = k.data<float>()[row * D + d], after = out.data<float>()[row * D + d];
      if (d == kKeyOutlierChannel) {
        // What a backend gets: k + bias rounded once to bf16.
        EXPECT_EQ(after, bf16_to_f32(f32_to_bf16(before + bias))) << "row " << row;
      } else {
        EXPECT_EQ(after, before) << "row " << row << ", channel " << d;
      }
    }
  EXPECT_NE(error_of([] {
              with_key_channel_outlier(Tensor::zeros({1, 2, 1, 16}, DType::F32));
            }).find("no channel"),
            std::string::npos);
}

TEST(KeyChannelOutlier, LeavesExactAttentionUnchangedBeyondBf16Rounding) {
  // The bias is shared by every key, so each query's scores shift by one constant (what K
  // smoothing relies on): the reference moves only by the rounding of k + bias to bf16, far less
  // than the bar's 3e-2.
  const int64_t S = 64, H = 2, D = 128;
  const Tensor q = bf16_randn({1, S, H, D}), k = bf16_randn({1, S, H, D}),
               v = bf16_randn({1, S, H, D});
  const std::vector<int64_t> rows = evenly_spaced_rows(S, 16);
  const float scale = 1.0f / std::sqrt(float(D));
  const std::vector<double> plain = reference_attention_rows(q, k, v, scale, rows);
  const std::vector<double> biased =
      reference_attention_rows(q, with_key_channel_outlier(k), v, scale, rows);
  const AccuracyMetrics m = compare_rows(biased, plain, H, D);
  EXPECT_LT(m.rel_l2, 2e-2);
  EXPECT_GT(m.rel_l2, 0.0);  // the rounding of k + bias is there
}

TEST(ScaledBf16, MultipliesThenRoundsToBf16) {
  const Tensor t = bf16_randn({1, 9, 2, 8});
  const Tensor big = scaled_bf16(t, kMagnitudeFactor);
  for (int64_t e = 0; e < t.numel(); ++e)
    ASSERT_EQ(big.data<float>()[e], bf16_to_f32(f32_to_bf16(t.data<float>()[e] * 20.0f)));
}

}  // namespace
}  // namespace fastvideo::bench
