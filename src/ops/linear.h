// Matrix products. CPU: f32 through OpenBLAS sgemm. CUDA: cuBLASLt, BF16 (or F16) inputs with fp32
// accumulation, or full-fp32 F32; mixed inputs run in the weight's (second operand's) dtype.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops {

// y = x·Wᵀ + b  (nn.Linear). x [..., in], weight [out, in], bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// gelu_tanh(x·Wᵀ + b): the DiT feed-forward's first half (wan21.md §1.5), one fused GEMM on CUDA.
Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// C = A·B (or A·Bᵀ), 2-D.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b = false);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b = false);
}  // namespace cpu
namespace cuda {
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b = false);
}  // namespace cuda

}  // namespace fastvideo::ops
