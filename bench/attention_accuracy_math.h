// The host arithmetic of `fastvideo bench attention --accuracy` (attention_accuracy.h): which query
// rows the reference covers, the reference itself (attention in double on the CPU), the two
// derived input cases (a channel-bias outlier in K, ×20 magnitudes), and the metrics of a backend's
// output against the reference with issue 10's bar. No GPU here: tests/attention_accuracy_math_test
// checks all of it on the CPU.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace fastvideo::bench {

// Issue 10's accuracy bar against fp32 attention at the Wan shapes (K-outlier case included), and
// NaN-free at ×20 magnitudes.
inline constexpr double kAccuracyMinCosine = 0.999;
inline constexpr double kAccuracyMaxRelL2 = 3e-2;

// `count` distinct query rows of [0, total), ascending, spread evenly: row i is
// ⌊(2i + 1)·total / (2·count)⌋, the middle of the i-th of `count` equal stretches. Every row when
// count ≥ total.
std::vector<int64_t> evenly_spaced_rows(int64_t total, int64_t count);

// softmax(q·kᵀ·scale)·v by its definition in double (scores, max, exponentials, sums and the
// weighted sum of v all in double; scale is the float the backends get, widened), for the query
// rows `rows` of every (batch, head) and over every key. q [B, Sq, H, D], k [B, Sk, H, D],
// v [B, Sk, H, Dv]: f32 CPU, contiguous (the bf16 values the backends see, widened exactly).
// Returns [B, rows.size(), H, Dv] row-major. Runs on parallel_for over (batch, head, block of 16
// rows), each block reading its head's keys once.
std::vector<double> reference_attention_rows(const Tensor& q, const Tensor& k, const Tensor& v,
                                             float scale, std::span<const int64_t> rows);

// The rows `rows` of out [B, S, H, D] (f32 CPU, contiguous) as [B, rows.size(), H, D] in double,
// the layout of reference_attention_rows.
std::vector<double> gather_rows(const Tensor& out, std::span<const int64_t> rows);

struct NonFiniteCount {
  int64_t nan = 0, inf = 0;
  int64_t total() const { return nan + inf; }
};
// NaN and ±Inf elements of t (f32 CPU, contiguous): over the whole output, not just the sampled
// rows.
NonFiniteCount count_non_finite(const Tensor& t);

struct AccuracyMetrics {
  double cosine = 0;             // a·b / (‖a‖‖b‖) over every sampled row and head
  double rel_l2 = 0;             // ‖a − b‖ / ‖b‖ over the same
  double worst_head_rel_l2 = 0;  // the largest rel-L2 of one head's sampled rows
};
// got and reference [B, R, H, D] (gather_rows and reference_attention_rows). A NaN in got makes
// every metric NaN (which fails every comparison).
AccuracyMetrics compare_rows(std::span<const double> got, std::span<const double> reference,
                             int64_t heads, int64_t head_dim);

// The bar: cosine ≥ kAccuracyMinCosine, rel-L2 ≤ kAccuracyMaxRelL2, no NaN or Inf anywhere in the
// output. The ×20 case has no reference and is judged on non_finite alone.
bool meets_accuracy_bar(const AccuracyMetrics& m, const NonFiniteCount& non_finite);

// The K-outlier case (the one K smoothing exists for, attention-algorithms.md §5.1): k [B, S, H, D]
// f32 CPU with b = kKeyOutlierStds · std(k) added to channel kKeyOutlierChannel of every head of
// every token, std(k) the population standard deviation over all of k's elements (in double), then
// rounded to bf16 (what a backend is given) and widened back to f32. A bias shared by all keys
// shifts each query's scores by one constant (q·b), so exact attention does not change; only
// rounding and quantization see it.
inline constexpr double kKeyOutlierStds = 10;
inline constexpr int64_t kKeyOutlierChannel = 37;  // any channel; not 0, so no edge hides it
Tensor with_key_channel_outlier(const Tensor& k);
double standard_deviation(const Tensor& t);  // population, in double; f32 CPU contiguous

// t · factor rounded to bf16 and widened back to f32 (the ×20 case: q, k and v × 20).
inline constexpr float kMagnitudeFactor = 20;
Tensor scaled_bf16(const Tensor& t, float factor);

}  // namespace fastvideo::bench
