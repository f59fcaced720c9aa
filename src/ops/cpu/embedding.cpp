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

}  // namespace fastvideo::ops::cpu
