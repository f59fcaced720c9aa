// SLA's feature map φ (ops/sparse_linear_attention.h) over R token rows, each spread across a
// group of lanes: each lane holds N of a row's values, and row_max / row_sum reduce a lane's value
// over its group (every lane of the group calls them: the softmax map shuffles). The output kernel
// (sla_linear_output.cu) passes a lane's two rows (R = 2, on the quads of its mma fragment rows),
// whose independent shuffle chains then interleave; the key pass (sla_key_state.cu) passes one (R =
// 1) on groups of eight lanes, four rows to a warp. Device code only.
#pragma once

#include <cmath>

#include "ops/sparse_linear_attention.h"

namespace fastvideo::ops::cuda {

template <int R, int N, class RowMax, class RowSum>
__device__ __forceinline__ void sla_feature_map(float (&x)[R][N], SlaFeatureMap map, RowMax row_max,
                                                RowSum row_sum) {
  switch (map) {
    case SlaFeatureMap::Softmax: {
      float mx[R], inv[R];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        mx[r] = x[r][0];
#pragma unroll
        for (int i = 1; i < N; ++i) mx[r] = fmaxf(mx[r], x[r][i]);
      }
#pragma unroll
      for (int r = 0; r < R; ++r) mx[r] = row_max(mx[r]);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float sum = 0.f;
#pragma unroll
        for (int i = 0; i < N; ++i) sum += (x[r][i] = expf(x[r][i] - mx[r]));
        inv[r] = sum;
      }
#pragma unroll
      for (int r = 0; r < R; ++r) inv[r] = 1.f / row_sum(inv[r]);
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int i = 0; i < N; ++i) x[r][i] *= inv[r];
      return;
    }
    case SlaFeatureMap::EluPlusOne:
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int i = 0; i < N; ++i) x[r][i] = x[r][i] > 0.f ? x[r][i] + 1.f : expf(x[r][i]);
      return;
    case SlaFeatureMap::Relu:
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int i = 0; i < N; ++i) x[r][i] = fmaxf(x[r][i], 0.f);
      return;
  }
}

}  // namespace fastvideo::ops::cuda
