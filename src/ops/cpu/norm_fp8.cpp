// CPU twins of src/ops/norm_fp8.h: the norm, then the rows quantized.
#include "ops/norm_fp8.h"

#include "ops/norm.h"

namespace fastvideo::ops::cpu {

Fp8Rows layer_norm_fp8(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias) {
  return quantize_rows_fp8(layer_norm(x, eps, weight, bias));
}

Fp8Rows layer_norm_modulate_fp8(const Tensor& x, float eps, const Tensor& shift,
                                const Tensor& scale) {
  return quantize_rows_fp8(layer_norm_modulate(x, eps, shift, scale));
}

}  // namespace fastvideo::ops::cpu
