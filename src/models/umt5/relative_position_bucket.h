// T5's relative position buckets and the per-head bias built from them (wan21.md §3.2). UMT5 keeps
// one bias table [num_buckets, num_heads] in every layer.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace fastvideo {

// Bidirectional bucket of r = key_pos − query_pos: the upper half of the buckets is for r > 0;
// within a half, |r| < half/2 is its own bucket and larger offsets share logarithmic buckets up to
// max_distance (float32 log, truncated toward 0, as transformers computes it).
int relative_position_bucket(int64_t relative_position, int num_buckets, int max_distance);

// Bucket of every (query i, key j) pair, row-major [q_len·k_len]: the ids into a bias table.
std::vector<int32_t> relative_position_buckets(int64_t q_len, int64_t k_len, int num_buckets,
                                               int max_distance);

// table [num_buckets, H] -> attention bias [H, q_len, k_len] with bias[h,i,j] =
// table[bucket(j − i), h].
Tensor relative_position_bias(const Tensor& table, std::span<const int32_t> buckets, int64_t q_len,
                              int64_t k_len);

}  // namespace fastvideo
