// One row-major GEMM through cuBLASLt with its epilogue fused: D = act(A·op(B) + bias). The
// heuristic's algorithm and the descriptors are planned once per shape, dtype, epilogue and
// pointer alignment, and reused. Where cuBLASLt offers no fused algorithm (PyTorch reports this
// for single-row products), the bias and GELU run as a separate kernel after the GEMM.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops::cuda_detail {

enum class GemmActivation { None, GeluTanh };

// FP8 operands' scales (cuBLASLt's outer-vector scaling): F32 [m] for a's rows, [n] for b's.
struct GemmRowScales {
  Tensor a, b;
};

// d [m, n] = act(a [m, k] · (transpose_b ? bᵀ with b [n, k] : b [k, n]) + bias [n]).
// All on one device, contiguous, one dtype (F32, BF16 or F16); bias undefined or of d's dtype.
// F32 runs full fp32 math (no TF32); 16-bit dtypes accumulate in fp32. Stream-ordered, no sync.
// With row_scales: a and b F8E4M3 (transpose_b, k a multiple of 16), d BF16, and
// d[i, j] = act(row_scales.a[i] · row_scales.b[j] · Σ_k a[i, k]·b[j, k] + bias[j]).
void cublaslt_gemm(const Tensor& d, const Tensor& a, const Tensor& b, bool transpose_b,
                   const Tensor& bias, GemmActivation activation,
                   const GemmRowScales* row_scales = nullptr);

}  // namespace fastvideo::ops::cuda_detail
