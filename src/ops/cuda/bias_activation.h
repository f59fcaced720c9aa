// The GEMM epilogue as a kernel of its own, for products cuBLASLt cannot fuse it into.
#pragma once

#include <cuda_runtime.h>

#include "core/tensor.h"

namespace fastvideo::ops::cuda_detail {

// In place: d[r, c] = act(d[r, c] + bias[c]), act = gelu_tanh or identity. d [m, n] contiguous
// F32/BF16/F16 on a GPU, bias [n] of d's dtype or undefined. Computes in fp32.
void bias_activation_inplace(const Tensor& d, const Tensor& bias, bool gelu_tanh,
                             cudaStream_t stream);

// In place: d[r, c] = act(d[r, c] · row_scales[r] · col_scales[c] + bias[c]): an FP8 GEMM's
// per-row and per-column scales where the cuBLASLt plan found no outer-vector algorithm (cuBLASLt
// builds without one; Hopper with CUDA 13.0 has it: docs/perf.md). d [m, n] BF16
// contiguous with n a multiple of 8, scales F32 [m] and [n], bias BF16 [n] or undefined; fp32 math,
// 8 elements a thread.
void scale_bias_activation_inplace(const Tensor& d, const Tensor& row_scales,
                                   const Tensor& col_scales, const Tensor& bias, bool gelu_tanh,
                                   cudaStream_t stream);

}  // namespace fastvideo::ops::cuda_detail
