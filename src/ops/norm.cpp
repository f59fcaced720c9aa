// Device dispatch for src/ops/norm.h: CPU twin or CUDA kernel by the input's device.
#include "ops/norm.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias) {
  return FV_DISPATCH_CPU_ONLY(x.device(), "layer_norm", layer_norm(x, eps, weight, bias));
}

Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight) {
  return FV_DISPATCH_CPU_ONLY(x.device(), "rms_norm", rms_norm(x, eps, weight));
}

}  // namespace fastvideo::ops
