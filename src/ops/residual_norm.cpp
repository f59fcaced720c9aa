// Device dispatch for src/ops/residual_norm.h, and the CPU twin: the ops it joins, in order.
#include "ops/residual_norm.h"

#include "ops/dispatch.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/norm_fp8.h"

namespace fastvideo::ops {

ResidualNorm residual_norm(const Tensor& x, const Tensor& y, const Tensor& gate,
                           const NormAfterResidual& norm) {
  FV_CHECK(
      x.ndim() == 3 && y.shape() == x.shape() && y.dtype() == x.dtype() && y.device() == x.device(),
      "residual_norm: x and y must be one [B, S, D] shape, dtype and device, got ", x.describe(),
      " and ", y.describe());
  FV_CHECK(norm.a.defined() == norm.b.defined() && (norm.a.defined() || !norm.modulate),
           "residual_norm: ", norm.modulate ? "shift and scale" : "weight and bias",
           " come together", norm.modulate ? " and are required" : "");
  return FV_DISPATCH(x.device(), residual_norm(x, y, gate, norm));
}

namespace cpu {

ResidualNorm residual_norm(const Tensor& x, const Tensor& y, const Tensor& gate,
                           const NormAfterResidual& norm) {
  ResidualNorm r;
  r.sum = gate.defined() ? ops::gated_residual(x, y, gate) : ops::add(x, y);
  if (norm.fp8) {
    r.rows = norm.modulate ? ops::layer_norm_modulate_fp8(r.sum, norm.eps, norm.a, norm.b)
                           : ops::layer_norm_fp8(r.sum, norm.eps, norm.a, norm.b);
  } else {
    r.normed = norm.modulate ? ops::layer_norm_modulate(r.sum, norm.eps, norm.a, norm.b)
                             : ops::layer_norm(r.sum, norm.eps, norm.a, norm.b);
  }
  return r;
}

}  // namespace cpu

}  // namespace fastvideo::ops
