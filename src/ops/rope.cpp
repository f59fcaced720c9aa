// Device dispatch for src/ops/rope.h: CPU twin or CUDA kernel by the input's device.
#include "ops/rope.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  return FV_DISPATCH(x.device(), apply_rope(x, cos, sin));
}

Tensor rms_norm_rope(const Tensor& x, float eps, const Tensor& weight, const Tensor& cos,
                     const Tensor& sin, int64_t heads) {
  return FV_DISPATCH(x.device(), rms_norm_rope(x, eps, weight, cos, sin, heads));
}

}  // namespace fastvideo::ops
