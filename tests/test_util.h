// Shared test helpers: fresh random inputs and relative-L2 comparison (DESIGN §3).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "core/tensor.h"
#include "fastvideo/video_quality.h"

namespace fastvideo::testing {

// Fresh random N(0, stddev) f32 tensor; each call draws new values.
Tensor randn(Shape shape, float stddev = 1.0f);

// ‖a − b‖ / ‖b‖ in double; NaN anywhere gives +inf so the comparison fails.
double rel_l2(const Tensor& a, const Tensor& b);

// Loads f32 tensors written by tools/reference (safetensors); path relative to the source tree.
std::string source_path(const std::string& relative);

// A PSNR gate on two videos: at least `min_mean_db` over all frames and `min_worst_db` for every
// frame (a mean alone lets one broken frame through); the message names the worst frame.
::testing::AssertionResult psnr_at_least(const VideoComparison& c, double min_mean_db,
                                         double min_worst_db);

}  // namespace fastvideo::testing
