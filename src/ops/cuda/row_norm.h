// The one CUDA row-normalisation kernel behind layer_norm, rms_norm and their fused forms
// (layer_norm_modulate in norm.h, rms_norm_rope in rope.h): one warp or block per row, the row held
// in registers, fp32 two-pass statistics, then an epilogue (affine, modulation, RoPE) before the
// single store.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/fp8_linear.h"

namespace fastvideo::ops::cuda_kernels {

struct RowNorm {
  const char* op = "";
  bool rms = false;  // rms_norm: no mean, no bias
  float eps = 0;
  Tensor weight, bias;  // [D] or undefined
  Tensor shift, scale;  // [B, D] or undefined: y·(1 + scale[b]) + shift[b] for x [B, S, D]
  Tensor cos, sin;      // [S, head_dim/2] or undefined: RoPE on interleaved pairs of each head
  int64_t heads = 0;    // with cos/sin: D = heads·head_dim, result [B, S, heads, head_dim]
  // With residual: the rows normalised are x + residual·gate[b] (x + residual without a gate;
  // gate [B, D] F32 rows for x [B, S, D]), rounded to x's dtype as gated_residual and add store
  // them; that sum goes to *sum too. residual like x, no RoPE.
  Tensor residual, gate;
  Tensor* sum = nullptr;
};

// x [..., D] (x [B, S, D] with shift/scale or RoPE) -> normalised rows in x's dtype.
Tensor row_norm(const Tensor& x, const RowNorm& norm);
// The same rows quantized for FP8 linears as quantize_rows_fp8 quantizes row_norm's result, in the
// same pass (norm_fp8.h): x BF16, D a multiple of 16, no RoPE.
Fp8Rows row_norm_fp8(const Tensor& x, const RowNorm& norm);

}  // namespace fastvideo::ops::cuda_kernels
