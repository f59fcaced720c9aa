// A residual sum and the norm that follows it, in one pass (issue 11: the DiT's elementwise chains
// fused): sum = x + y·gate[b] (gated_residual; without a gate x + y, as add), in x's dtype as
// those ops store it, then layer_norm (weight, bias) or layer_norm_modulate (shift, scale) of that
// sum, as activations or as FP8 rows (norm_fp8.h). On a GPU the row-norm kernel reads x and y once
// and writes the sum beside the norm (the pair of ops read the sum back); on the CPU it is the
// composition, which the GPU's result equals.
#pragma once

#include <optional>

#include "core/tensor.h"
#include "ops/fp8_linear.h"

namespace fastvideo::ops {

// Which norm of the sum: layer_norm(sum, eps, a = weight, b = bias) or, with modulate,
// layer_norm_modulate(sum, eps, a = shift, b = scale); fp8: its FP8 rows instead.
struct NormAfterResidual {
  float eps = 0;
  Tensor a, b;
  bool modulate = false;
  bool fp8 = false;
};

struct ResidualNorm {
  Tensor sum;                   // x + y·gate
  Tensor normed;                // the norm of sum (undefined with fp8)
  std::optional<Fp8Rows> rows;  // with fp8: quantize_rows_fp8 of that norm
};

// x, y [B, S, D] of one dtype; gate [B, D] or undefined.
ResidualNorm residual_norm(const Tensor& x, const Tensor& y, const Tensor& gate,
                           const NormAfterResidual& norm);

namespace cpu {
ResidualNorm residual_norm(const Tensor& x, const Tensor& y, const Tensor& gate,
                           const NormAfterResidual& norm);
}  // namespace cpu
namespace cuda {
ResidualNorm residual_norm(const Tensor& x, const Tensor& y, const Tensor& gate,
                           const NormAfterResidual& norm);
}  // namespace cuda

}  // namespace fastvideo::ops
