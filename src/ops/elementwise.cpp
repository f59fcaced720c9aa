// Device dispatch for src/ops/elementwise.h: CPU twin or CUDA kernel by the input's device.
#include "ops/elementwise.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor add(const Tensor& a, const Tensor& b) { return FV_DISPATCH(a.device(), add(a, b)); }

Tensor mul(const Tensor& a, const Tensor& b) { return FV_DISPATCH(a.device(), mul(a, b)); }

Tensor scale(const Tensor& a, float s) { return FV_DISPATCH(a.device(), scale(a, s)); }

Tensor silu(const Tensor& x) { return FV_DISPATCH(x.device(), silu(x)); }

Tensor gelu_tanh(const Tensor& x) { return FV_DISPATCH(x.device(), gelu_tanh(x)); }

Tensor clamp(const Tensor& x, float lo, float hi) {
  return FV_DISPATCH(x.device(), clamp(x, lo, hi));
}

Tensor gelu_tanh_gate(const Tensor& x) {
  FV_CHECK(x.ndim() >= 1 && x.size(-1) % 2 == 0,
           "gelu_tanh_gate: expected x [..., 2F] (an even "
           "last dim: the gate half, then the linear half), got ",
           x.describe());
  return FV_DISPATCH(x.device(), gelu_tanh_gate(x));
}

Tensor modulate(const Tensor& x, const Tensor& shift, const Tensor& scale) {
  return FV_DISPATCH(x.device(), modulate(x, shift, scale));
}

Tensor gated_residual(const Tensor& x, const Tensor& y, const Tensor& gate) {
  return FV_DISPATCH(x.device(), gated_residual(x, y, gate));
}

Tensor linear_combination(std::span<const std::pair<Tensor, double>> terms) {
  FV_CHECK(!terms.empty(), "linear_combination: no inputs");
  return FV_DISPATCH(terms[0].first.device(), linear_combination(terms));
}

bool all_finite(const Tensor& t) { return FV_DISPATCH(t.device(), all_finite(t)); }

}  // namespace fastvideo::ops
