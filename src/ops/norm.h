// Normalisations over the last dimension. CPU: f32 in and out, statistics accumulated in double.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops {

// LayerNorm with biased variance; weight/bias optional (undefined = non-affine).
Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight = {}, const Tensor& bias = {});

// y = x·rsqrt(mean(x²) + eps)·weight (weight optional).
Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight = {});

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight = {}, const Tensor& bias = {});
Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight = {});
}  // namespace cpu
namespace cuda {
Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight = {}, const Tensor& bias = {});
Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight = {});
}  // namespace cuda

}  // namespace fastvideo::ops
