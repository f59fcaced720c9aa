// Device dispatch for src/ops/fp8_linear.h, and the checks both backends share.
#include "ops/fp8_linear.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Fp8Rows quantize_rows_fp8(const Tensor& x) {
  FV_CHECK(x.ndim() >= 1 && is_float_dtype(x.dtype()),
           "quantize_rows_fp8: x must be a float tensor [..., K], got ", x.describe());
  return FV_DISPATCH(x.device(), quantize_rows_fp8(x));
}

Tensor fp8_linear(const Tensor& x, const Fp8Rows& weight, const Tensor& bias, bool gelu) {
  const Tensor& w = weight.values;
  FV_CHECK(w.ndim() == 2 && w.dtype() == DType::F8E4M3 && weight.scales.dtype() == DType::F32 &&
               weight.scales.shape() == Shape({w.size(0)}),
           "fp8_linear: the weight must be F8E4M3 [out, in] with F32 scales [out], got ",
           w.describe(), " and ", weight.scales.describe());
  FV_CHECK(x.ndim() >= 1 && x.size(-1) == w.size(1), "fp8_linear: input ", x.describe(),
           " does not match the weight ", w.describe());
  FV_CHECK(w.device() == x.device() && weight.scales.device() == x.device() &&
               (!bias.defined() || bias.device() == x.device()),
           "fp8_linear: weight ", w.describe(), ", scales and bias must be on ", x.device().name(),
           " with the input");
  FV_CHECK(!bias.defined() || bias.shape() == Shape({w.size(0)}), "fp8_linear: bias ",
           bias.describe(), " must be [", w.size(0), "]");
  return FV_DISPATCH(x.device(), fp8_linear(x, weight, bias, gelu));
}

}  // namespace fastvideo::ops
