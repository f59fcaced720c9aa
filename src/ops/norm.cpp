// Device dispatch for src/ops/norm.h: CPU twin or CUDA kernel by the input's device.
#include "ops/norm.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias) {
  return FV_DISPATCH(x.device(), layer_norm(x, eps, weight, bias));
}

Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight) {
  return FV_DISPATCH(x.device(), rms_norm(x, eps, weight));
}

Tensor layer_norm_modulate(const Tensor& x, float eps, const Tensor& shift, const Tensor& scale) {
  return FV_DISPATCH(x.device(), layer_norm_modulate(x, eps, shift, scale));
}

}  // namespace fastvideo::ops
