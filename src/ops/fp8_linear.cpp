// Device dispatch for src/ops/fp8_linear.h, and the checks both backends share.
#include "ops/fp8_linear.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Fp8Rows quantize_rows_fp8(const Tensor& x) {
  FV_CHECK(x.ndim() >= 1 && is_float_dtype(x.dtype()),
           "quantize_rows_fp8: x must be a float tensor [..., K], got ", x.describe());
  return FV_DISPATCH(x.device(), quantize_rows_fp8(x));
}

namespace {

void check_weight(const Device& device, const Fp8Rows& weight, const Tensor& bias) {
  const Tensor& w = weight.values;
  FV_CHECK(w.ndim() == 2 && w.dtype() == DType::F8E4M3 && weight.scales.dtype() == DType::F32 &&
               weight.scales.shape() == Shape({w.size(0)}),
           "fp8_linear: the weight must be F8E4M3 [out, in] with F32 scales [out], got ",
           w.describe(), " and ", weight.scales.describe());
  FV_CHECK(w.device() == device && weight.scales.device() == device &&
               (!bias.defined() || bias.device() == device),
           "fp8_linear: weight ", w.describe(), ", scales and bias must be on ", device.name(),
           " with the input");
  FV_CHECK(!bias.defined() || bias.shape() == Shape({w.size(0)}), "fp8_linear: bias ",
           bias.describe(), " must be [", w.size(0), "]");
}

}  // namespace

Tensor fp8_linear(const Tensor& x, const Fp8Rows& weight, const Tensor& bias, bool gelu) {
  check_weight(x.device(), weight, bias);
  FV_CHECK(x.ndim() >= 1 && x.size(-1) == weight.values.size(1), "fp8_linear: input ", x.describe(),
           " does not match the weight ", weight.values.describe());
  const DType want = x.device().is_cpu() ? DType::F32 : DType::BF16;
  FV_CHECK(x.dtype() == want, "fp8_linear on ", x.device().name(), " takes ", dtype_name(want),
           " input, got ", x.describe());
  return fp8_linear(quantize_rows_fp8(x), x.dtype(), weight, bias, gelu);
}

Tensor fp8_linear(const Fp8Rows& xq, DType out, const Fp8Rows& weight, const Tensor& bias,
                  bool gelu) {
  const Tensor& x = xq.values;
  const Tensor& w = weight.values;
  check_weight(x.device(), weight, bias);
  FV_CHECK(xq.scales.device() == x.device(), "fp8_linear: the input's scales ",
           xq.scales.describe(), " must be on ", x.device().name(), " with its values");
  FV_CHECK(x.ndim() >= 1 && x.dtype() == DType::F8E4M3 && x.size(-1) == w.size(1) &&
               xq.scales.dtype() == DType::F32 &&
               xq.scales.numel() == (x.size(-1) == 0 ? 0 : x.numel() / x.size(-1)),
           "fp8_linear: quantized input ", x.describe(), " with scales ", xq.scales.describe(),
           " does not match the weight ", w.describe());
  const DType want = x.device().is_cpu() ? DType::F32 : DType::BF16;
  FV_CHECK(out == want, "fp8_linear on ", x.device().name(), " writes ", dtype_name(want), ", not ",
           dtype_name(out));
  return FV_DISPATCH(x.device(), fp8_linear(xq, out, weight, bias, gelu));
}

}  // namespace fastvideo::ops
