#include "models/umt5/relative_position_bucket.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

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

Tensor relative_offset_buckets(int64_t q_len, int64_t k_len, int num_buckets, int max_distance) {
  Tensor buckets = Tensor::empty({q_len + k_len - 1}, DType::I32);
  int32_t* b = buckets.data<int32_t>();
  for (int64_t r = -(q_len - 1); r < k_len; ++r)
    b[r + q_len - 1] = relative_position_bucket(r, num_buckets, max_distance);
  return buckets;
}

}  // namespace fastvideo
