// The DiT's norms that feed FP8 linears, writing FP8 rows instead of activations (issue 11: FP8
// linears with the activations' per-token scales made by their producer): the rows are exactly
// quantize_rows_fp8 of the norm's result in the activation dtype, so the linears behind them
// (fp8_linear on Fp8Rows) see what they would after the norm and a separate quantization. On a
// GPU that is one pass over the rows instead of a norm writing BF16 and a quantizer reading it
// back; on the CPU the twin is the plain composition.
#pragma once

#include "core/tensor.h"
#include "ops/fp8_linear.h"

namespace fastvideo::ops {

// quantize_rows_fp8(layer_norm(x, eps, weight, bias)); on a GPU x BF16 [..., D], D % 16 == 0.
Fp8Rows layer_norm_fp8(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias);
// quantize_rows_fp8(layer_norm_modulate(x, eps, shift, scale)); the same limits on a GPU.
Fp8Rows layer_norm_modulate_fp8(const Tensor& x, float eps, const Tensor& shift,
                                const Tensor& scale);

namespace cpu {
Fp8Rows layer_norm_fp8(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias);
Fp8Rows layer_norm_modulate_fp8(const Tensor& x, float eps, const Tensor& shift,
                                const Tensor& scale);
}  // namespace cpu
namespace cuda {
Fp8Rows layer_norm_fp8(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias);
Fp8Rows layer_norm_modulate_fp8(const Tensor& x, float eps, const Tensor& shift,
                                const Tensor& scale);
}  // namespace cuda

}  // namespace fastvideo::ops
