#include "ops/embedding.h"

#include <algorithm>
#include <cstring>

#include "core/parallel.h"

namespace fastvideo::ops::cpu {

Tensor embedding(const Tensor& table, std::span<const int32_t> ids) {
  FV_CHECK(table.ndim() == 2, "embedding: expected a table [V, D], got ", table.describe());
  const int64_t V = table.size(0), D = table.size(1);
  const int64_t n = int64_t(ids.size());
  for (int64_t i = 0; i < n; ++i) {
    FV_CHECK(ids[i] >= 0 && ids[i] < V, "embedding: id ", ids[i], " at position ", i,
             " is outside the table's ", V, " rows");
  }
  Tensor tc = table.contiguous();
  Tensor out = Tensor::empty({n, D}, DType::F32);
  const float* src = tc.f32().data();
  float* dst = out.data<float>();
  parallel_for(n, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(D, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t i = b; i < e; ++i) {
                   std::memcpy(dst + i * D, src + int64_t(ids[i]) * D, size_t(D) * sizeof(float));
                 }
               });
  return out;
}

Tensor gather_rows(const Tensor& x, const Tensor& rows) {
  const int64_t B = x.size(0), S = x.size(1), C = x.size(2), R = rows.size(0);
  const Tensor rc = rows.contiguous();
  const int32_t* index = rc.data<int32_t>();
  for (int64_t i = 0; i < R; ++i) {
    FV_CHECK(index[i] >= 0 && index[i] < S, "gather_rows: row ", index[i], " at position ", i,
             " is outside x's ", S, " rows");
  }
  const Tensor xc = x.contiguous();
  Tensor out = Tensor::empty({B, R, C}, x.dtype());
  const size_t row_bytes = size_t(C) * dtype_size(x.dtype());
  const auto* src = static_cast<const char*>(xc.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < R; ++i)
      std::memcpy(dst + (b * R + i) * row_bytes, src + (b * S + index[i]) * row_bytes, row_bytes);
  return out;
}

Tensor relative_position_bias(const Tensor& table, const Tensor& offset_buckets, int64_t q_len,
                              int64_t k_len) {
  const int64_t NB = table.size(0), H = table.size(1);
  const int32_t* buckets = offset_buckets.data<int32_t>();
  for (int64_t r = 0; r < q_len + k_len - 1; ++r) {
    FV_CHECK(buckets[r] >= 0 && buckets[r] < NB, "relative_position_bias: bucket ", buckets[r],
             " of offset ", r - (q_len - 1), " is outside the table's ", NB, " rows");
  }
  Tensor tc = table.to(DType::F32).contiguous();
  const float* t = tc.f32().data();
  Tensor out = Tensor::empty({H, q_len, k_len}, DType::F32);
  float* o = out.data<float>();
  parallel_for(H * q_len, std::max<int64_t>(1, (1 << 14) / k_len), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      const int64_t h = row / q_len, i = row % q_len;
      for (int64_t j = 0; j < k_len; ++j)
        o[row * k_len + j] = t[buckets[j - i + q_len - 1] * H + h];
    }
  });
  return out;
}

}  // namespace fastvideo::ops::cpu
