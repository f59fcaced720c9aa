// One row-major GEMM through cuBLASLt with its epilogue fused: D = act(A·op(B) + bias). The
// heuristic's algorithm and the descriptors are planned once per shape, dtype, epilogue and
// pointer alignment, and reused. Where cuBLASLt offers no fused algorithm (PyTorch reports this
// for single-row products), the bias and GELU run as a separate kernel after the GEMM.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops::cuda_detail {

enum class GemmActivation { None, GeluTanh };

// FP8 operands' scales. Outer vectors: F32 [m] for a's rows, [n] for b's. Blocks (Hopper,
// ops/fp8_linear.h): a's per row in groups of 128 along k, F32 [k / 128, m]; b's per 128×128
// block, F32 [n / 128, k / 128 rounded up to a multiple of 4].
struct GemmScales {
  Tensor a, b;
  bool blocks = false;
};

// d [m, n] = act(a [m, k] · (transpose_b ? bᵀ with b [n, k] : b [k, n]) + bias [n]).
// All on one device, contiguous, one dtype (F32, BF16 or F16); bias undefined or of d's dtype.
// F32 runs full fp32 math (no TF32); 16-bit dtypes accumulate in fp32. Stream-ordered, no sync.
// With fp8_scales: a and b F8E4M3 (transpose_b, k a multiple of 16), d BF16, and
// d[i, j] = act(fp8_scales.a[i] · fp8_scales.b[j] · Σ_k a[i, k]·b[j, k] + bias[j]); with block
// scales (n and k multiples of 128) each 128-wide part of the sum takes its group's and block's
// scales instead, and there is no fallback: a shape cuBLASLt cannot plan is an error.
void cublaslt_gemm(const Tensor& d, const Tensor& a, const Tensor& b, bool transpose_b,
                   const Tensor& bias, GemmActivation activation,
                   const GemmScales* fp8_scales = nullptr);

}  // namespace fastvideo::ops::cuda_detail
