// The GEMM epilogue as a kernel of its own, for products cuBLASLt cannot fuse it into.
#pragma once

#include <cuda_runtime.h>

#include "core/tensor.h"

namespace fastvideo::ops::cuda_detail {

// In place: d[r, c] = act(d[r, c] + bias[c]), act = gelu_tanh or identity. d [m, n] contiguous
// F32/BF16/F16 on a GPU, bias [n] of d's dtype or undefined. Computes in fp32.
void bias_activation_inplace(const Tensor& d, const Tensor& bias, bool gelu_tanh,
                             cudaStream_t stream);

}  // namespace fastvideo::ops::cuda_detail
