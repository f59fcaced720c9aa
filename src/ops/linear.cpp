// Device dispatch for src/ops/linear.h: CPU twin or CUDA kernel by the input's device.
#include "ops/linear.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return FV_DISPATCH(x.device(), linear(x, weight, bias));
}

Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return FV_DISPATCH(x.device(), linear_gelu(x, weight, bias));
}

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b) {
  return FV_DISPATCH(a.device(), matmul(a, b, transpose_b));
}

}  // namespace fastvideo::ops
