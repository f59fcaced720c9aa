#include "models/umt5/relative_position_bucket.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "ops/embedding.h"

namespace fastvideo {

int relative_position_bucket(int64_t relative_position, int num_buckets, int max_distance) {
  // wan21.md §3.2 (transformers T5Attention._relative_position_bucket, bidirectional).
  const int half = num_buckets / 2;
  const int base = relative_position > 0 ? half : 0;
  const int64_t n = std::abs(relative_position);
  const int max_exact = half / 2;
  if (n < max_exact) return base + int(n);
  // Float32 throughout, as torch does with a float tensor and Python float scalars; at n = 16, 32,
  // 64 the value is an exact integer, so the precision decides the bucket.
  const float ratio = std::log(float(n) / float(max_exact)) /
                      float(std::log(double(max_distance) / double(max_exact))) *
                      float(half - max_exact);
  const int large = max_exact + int(ratio);  // truncation toward 0 (ratio >= 0)
  return base + std::min(large, half - 1);
}

std::vector<int32_t> relative_position_buckets(int64_t q_len, int64_t k_len, int num_buckets,
                                               int max_distance) {
  std::vector<int32_t> buckets(size_t(q_len * k_len));
  for (int64_t i = 0; i < q_len; ++i)
    for (int64_t j = 0; j < k_len; ++j)
      buckets[size_t(i * k_len + j)] = relative_position_bucket(j - i, num_buckets, max_distance);
  return buckets;
}

Tensor relative_position_bias(const Tensor& table, std::span<const int32_t> buckets, int64_t q_len,
                              int64_t k_len) {
  FV_CHECK(int64_t(buckets.size()) == q_len * k_len, "relative_position_bias: ", buckets.size(),
           " buckets for ", q_len, "x", k_len, " positions");
  const int64_t heads = table.size(1);
  // Gather rows [q·k, H], then heads first for ops::attention.
  return ops::embedding(table, buckets)
      .reshape({q_len, k_len, heads})
      .permute({2, 0, 1})
      .contiguous();
}

}  // namespace fastvideo
