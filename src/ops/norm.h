// Normalisations over the last dimension. CPU: f32 in and out, statistics accumulated in double.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops {

// LayerNorm with biased variance; weight/bias optional (undefined = non-affine).
Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight = {}, const Tensor& bias = {});

// y = x·rsqrt(mean(x²) + eps)·weight (weight optional).
Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight = {});

// modulate(layer_norm(x, eps), shift, scale) in one pass: non-affine LayerNorm, then
// y·(1 + scale[b]) + shift[b] (wan21.md §1.5). x [B, S, D]; shift, scale [B, D]; result in x's
// dtype.
Tensor layer_norm_modulate(const Tensor& x, float eps, const Tensor& shift, const Tensor& scale);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight = {}, const Tensor& bias = {});
Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight = {});
Tensor layer_norm_modulate(const Tensor& x, float eps, const Tensor& shift, const Tensor& scale);
}  // namespace cpu
namespace cuda {
Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight = {}, const Tensor& bias = {});
Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight = {});
Tensor layer_norm_modulate(const Tensor& x, float eps, const Tensor& shift, const Tensor& scale);
}  // namespace cuda

}  // namespace fastvideo::ops
