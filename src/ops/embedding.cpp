// Device dispatch for src/ops/embedding.h: CPU twin or CUDA kernel by the input's device.
#include "ops/embedding.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

namespace {

// The shape and dtype checks both devices' twins rely on.
void check_relative_position_bias(const Tensor& table, const Tensor& offset_buckets, int64_t q_len,
                                  int64_t k_len) {
  FV_CHECK(table.ndim() == 2, "relative_position_bias: expected a table [buckets, heads], got ",
           table.describe());
  FV_CHECK(q_len > 0 && k_len > 0, "relative_position_bias: ", q_len, " queries and ", k_len,
           " keys (each must be at least 1)");
  FV_CHECK(offset_buckets.dtype() == DType::I32 && offset_buckets.ndim() == 1 &&
               offset_buckets.size(0) == q_len + k_len - 1 && offset_buckets.is_contiguous(),
           "relative_position_bias: expected offset buckets I32 [", q_len + k_len - 1,
           "] (one per offset for ", q_len, " queries and ", k_len, " keys), got ",
           offset_buckets.describe());
  FV_CHECK(offset_buckets.device() == table.device(), "relative_position_bias: offset buckets ",
           offset_buckets.describe(), " are not on the table's device ", table.device().name());
}

}  // namespace

Tensor embedding(const Tensor& table, std::span<const int32_t> ids) {
  return FV_DISPATCH(table.device(), embedding(table, ids));
}

Tensor gather_rows(const Tensor& x, const Tensor& rows) {
  FV_CHECK(x.ndim() == 3, "gather_rows: expected x [B, S, C], got ", x.describe());
  FV_CHECK(rows.dtype() == DType::I32 && rows.ndim() == 1 && rows.device() == x.device(),
           "gather_rows: expected rows I32 [R] on ", x.device().name(), ", got ", rows.describe());
  return FV_DISPATCH(x.device(), gather_rows(x, rows));
}

Tensor relative_position_bias(const Tensor& table, const Tensor& offset_buckets, int64_t q_len,
                              int64_t k_len) {
  check_relative_position_bias(table, offset_buckets, q_len, k_len);
  return FV_DISPATCH(table.device(), relative_position_bias(table, offset_buckets, q_len, k_len));
}

}  // namespace fastvideo::ops
