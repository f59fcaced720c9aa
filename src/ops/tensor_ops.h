// Structural tensor ops that copy data between layouts (no arithmetic).
#pragma once

#include <span>

#include "core/tensor.h"

namespace fastvideo::ops {

// Joins tensors along `dim` (may be negative); all other dims must agree, errors name the
// mismatching input. One implementation for both devices: each input is copied into its slice of
// the result (on a GPU the device copy's row path, core/cuda/device_copy.cu). The result is
// contiguous, f32 on the CPU, the first input's dtype on a GPU (the others converted); every input
// on the first one's device.
Tensor concat(std::span<const Tensor> tensors, int dim);

}  // namespace fastvideo::ops
