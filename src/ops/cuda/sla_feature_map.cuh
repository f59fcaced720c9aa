// SLA's feature map φ (ops/sparse_linear_attention.h) over one token row spread across a group of
// lanes (a warp, or the quad of an mma fragment row): each lane holds N of the row's values, and
// row_max / row_sum reduce a lane's value over the group (every lane of the group calls it: the
// softmax map shuffles). The linear branch's two kernels share it (sla_key_state.cu,
// sla_linear_output.cu). Device code only.
#pragma once

#include <cmath>

#include "ops/sparse_linear_attention.h"

namespace fastvideo::ops::cuda {

template <int N, class RowMax, class RowSum>
__device__ __forceinline__ void sla_feature_map(float (&x)[N], SlaFeatureMap map, RowMax row_max,
                                                RowSum row_sum) {
  switch (map) {
    case SlaFeatureMap::Softmax: {
      float mx = x[0];
#pragma unroll
      for (int i = 1; i < N; ++i) mx = fmaxf(mx, x[i]);
      mx = row_max(mx);
      float sum = 0.f;
#pragma unroll
      for (int i = 0; i < N; ++i) sum += (x[i] = expf(x[i] - mx));
      const float inv = 1.f / row_sum(sum);
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] *= inv;
      return;
    }
    case SlaFeatureMap::EluPlusOne:
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] = x[i] > 0.f ? x[i] + 1.f : expf(x[i]);
      return;
    case SlaFeatureMap::Relu:
#pragma unroll
      for (int i = 0; i < N; ++i) x[i] = fmaxf(x[i], 0.f);
      return;
  }
}

}  // namespace fastvideo::ops::cuda
