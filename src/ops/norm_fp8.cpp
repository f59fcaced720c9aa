// Device dispatch for src/ops/norm_fp8.h.
#include "ops/norm_fp8.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Fp8Rows layer_norm_fp8(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias) {
  return FV_DISPATCH(x.device(), layer_norm_fp8(x, eps, weight, bias));
}

Fp8Rows layer_norm_modulate_fp8(const Tensor& x, float eps, const Tensor& shift,
                                const Tensor& scale) {
  return FV_DISPATCH(x.device(), layer_norm_modulate_fp8(x, eps, shift, scale));
}

}  // namespace fastvideo::ops
