// Sinusoidal timestep features (diffusers `Timesteps`, wan21.md §1.3).
#pragma once

#include <span>

#include "core/tensor.h"

namespace fastvideo::ops {

// [B, dim] f32 for B timesteps, on `device`: [cos(t·ω_0 .. t·ω_{dim/2-1}), sin(...)], cos first
// (flip_sin_to_cos), ω_i = exp(−ln(10000)·i/(dim/2)) (downscale_freq_shift 0, max_period 10000).
// The frequencies and arguments are rounded to f32 exactly as the PyTorch reference computes
// them: with t up to 999, the argument's rounding is visible in the output. On a GPU the features
// are computed there from the timesteps passed by value: no host-to-device copy, which would make
// the host wait for the device's queue (issue 11).
Tensor timestep_embedding(std::span<const double> timesteps, int dim,
                          Device device = Device::cpu());

// Backend implementations; the function above checks dim and dispatches on `device`.
namespace cpu {
Tensor timestep_embedding(std::span<const double> timesteps, int dim, Device device);
}  // namespace cpu
namespace cuda {
Tensor timestep_embedding(std::span<const double> timesteps, int dim, Device device);
}  // namespace cuda

}  // namespace fastvideo::ops
