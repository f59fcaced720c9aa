// T5's relative position buckets (wan21.md §3.2), from which ops::relative_position_bias builds
// each UMT5 layer's per-head bias (every layer keeps its own table [num_buckets, num_heads]).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace fastvideo {

// Bidirectional bucket of r = key_pos − query_pos: the upper half of the buckets is for r > 0;
// within a half, |r| < half/2 is its own bucket and larger offsets share logarithmic buckets up to
// max_distance (float32 log, truncated toward 0, as transformers computes it).
int relative_position_bucket(int64_t relative_position, int num_buckets, int max_distance);

// The bucket of every offset r = key_pos − query_pos for q_len queries and k_len keys, r from
// −(q_len − 1) to k_len − 1 at index r + q_len − 1: what ops::relative_position_bias takes. A
// bias needs one bucket per offset, not per pair (2n − 1 logarithms instead of n²).
Tensor relative_offset_buckets(int64_t q_len, int64_t k_len, int num_buckets, int max_distance);

}  // namespace fastvideo
