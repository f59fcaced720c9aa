// Row lookup in an embedding table (nn.Embedding): the token embedding of the text encoder and the
// relative-position bias tables (wan21.md §3.2) are both a gather of rows by integer id.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace fastvideo::ops {

// table [V, D], ids in [0, V) -> [ids.size(), D]. An id outside the table throws naming the id,
// its position and V.
Tensor embedding(const Tensor& table, std::span<const int32_t> ids);

// Rows of each batch item reordered: x [B, S, C], rows I32 [R] on x's device with values in
// [0, S) -> [B, R, C] in x's dtype, out[b, i] = x[b, rows[i]] (exact copies). An index outside
// [0, S) throws on the CPU; on a GPU it is not read back (that would stop the stream), so the
// caller builds them in range (VSA's tile order: ops/token_tiling.h).
Tensor gather_rows(const Tensor& x, const Tensor& rows);

// T5's relative-position bias from its table [NB, H] (wan21.md §3.2), the bucket looked up per
// offset: offset_buckets I32 [q_len + k_len − 1] on the table's device holds the bucket of offset
// r = j − i at r + q_len − 1 -> [H, q_len, k_len] in the table's dtype (exact copies of its
// values), out[h, i, j] = table[bucket(j − i), h].
// Buckets outside [0, NB) throw on the CPU; on a GPU they are not read back (that would stop the
// stream), so the caller builds them in range (models/umt5/relative_position_bucket.h).
Tensor relative_position_bias(const Tensor& table, const Tensor& offset_buckets, int64_t q_len,
                              int64_t k_len);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor embedding(const Tensor& table, std::span<const int32_t> ids);
Tensor gather_rows(const Tensor& x, const Tensor& rows);
Tensor relative_position_bias(const Tensor& table, const Tensor& offset_buckets, int64_t q_len,
                              int64_t k_len);
}  // namespace cpu
namespace cuda {
Tensor embedding(const Tensor& table, std::span<const int32_t> ids);
Tensor gather_rows(const Tensor& x, const Tensor& rows);
Tensor relative_position_bias(const Tensor& table, const Tensor& offset_buckets, int64_t q_len,
                              int64_t k_len);
}  // namespace cuda

}  // namespace fastvideo::ops
