// Matrix products. CPU: f32 through OpenBLAS sgemm.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops {

// y = x·Wᵀ + b  (nn.Linear). x [..., in], weight [out, in], bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// C = A·B (or A·Bᵀ), 2-D f32.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b = false);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b = false);
}  // namespace cpu
namespace cuda {
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b = false);
}  // namespace cuda

}  // namespace fastvideo::ops
