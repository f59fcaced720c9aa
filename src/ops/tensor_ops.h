// Structural tensor ops that copy data between layouts (no arithmetic).
#pragma once

#include <span>

#include "core/tensor.h"

namespace fastvideo::ops {

// Joins tensors along `dim`; all other dims must agree. Result is contiguous f32.
Tensor concat(std::span<const Tensor> tensors, int dim);

// Backend implementations; the functions above dispatch on the input's device.
// The shape of concat(tensors, dim) (dim may be negative); errors name the mismatching input.
Shape concat_shape(std::span<const Tensor> tensors, int dim);

namespace cpu {
Tensor concat(std::span<const Tensor> tensors, int dim);
}  // namespace cpu
namespace cuda {
Tensor concat(std::span<const Tensor> tensors, int dim);
}  // namespace cuda

}  // namespace fastvideo::ops
