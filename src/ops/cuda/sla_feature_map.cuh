// SLA's feature map φ (ops/sparse_linear_attention.h) over R token rows at once, each spread
// across a group of lanes (eight lanes in the key-state kernel, the quad of an mma fragment row in
// the output kernel): each lane holds N of a row's values, and row_max / row_sum reduce a lane's
// value over its group (every lane of the group calls them: the softmax map shuffles). The R rows'
// shuffle chains are independent, so they interleave instead of waiting on one another. The
// linear branch's two kernels share it (sla_key_state.cu, sla_linear_output.cu). Device code only.
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
