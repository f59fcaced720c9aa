// Shared test helpers: fresh random inputs and relative-L2 comparison (DESIGN §3).
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "core/tensor.h"

namespace fastvideo::testing {

// Fresh random N(0, stddev) f32 tensor; each call draws new values.
Tensor randn(Shape shape, float stddev = 1.0f);

// ‖a − b‖ / ‖b‖ in double; NaN anywhere gives +inf so the comparison fails.
double rel_l2(const Tensor& a, const Tensor& b);

// Loads f32 tensors written by tools/reference (safetensors); path relative to the source tree.
std::string source_path(const std::string& relative);

}  // namespace fastvideo::testing
