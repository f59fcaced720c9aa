// One row-major GEMM through cuBLASLt with its epilogue fused: D = act(A·op(B) + bias). The
// heuristic's algorithm and the descriptors are planned once per shape, dtype, epilogue and
// pointer alignment, and reused. Where cuBLASLt offers no fused algorithm (PyTorch reports this
// for single-row products), the bias and GELU run as a separate kernel after the GEMM.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops::cuda_detail {

enum class GemmActivation { None, GeluTanh };

// d [m, n] = act(a [m, k] · (transpose_b ? bᵀ with b [n, k] : b [k, n]) + bias [n]).
// All on one device, contiguous, one dtype (F32, BF16 or F16); bias undefined or of d's dtype.
// F32 runs full fp32 math (no TF32); 16-bit dtypes accumulate in fp32. Stream-ordered, no sync.
void cublaslt_gemm(const Tensor& d, const Tensor& a, const Tensor& b, bool transpose_b,
                   const Tensor& bias, GemmActivation activation);

}  // namespace fastvideo::ops::cuda_detail
