// Device dispatch for src/ops/rope.h: CPU twin or CUDA kernel by the input's device.
#include "ops/rope.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  return FV_DISPATCH_CPU_ONLY(x.device(), "apply_rope", apply_rope(x, cos, sin));
}

}  // namespace fastvideo::ops
