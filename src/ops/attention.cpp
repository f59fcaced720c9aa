// Device dispatch for src/ops/attention.h: CPU twin or CUDA kernel by the input's device.
#include "ops/attention.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias) {
  return FV_DISPATCH(q.device(), attention(q, k, v, scale, bias));
}

}  // namespace fastvideo::ops
