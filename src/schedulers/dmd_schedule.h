// The few-step DMD sampler of FastVideo's WanDMDPipeline (fastvideo.md §1.3, FastWan): at each of
// the timesteps t_0 > t_1 > ... (dmd_denoising_steps, e.g. 1000, 757, 522) the transformer predicts
// the flow v at x_t, the clean latents are x0 = x_t − σ_t·v, and every step but the last re-noises
// them to the next timestep, x = (1 − σ_next)·x0 + σ_next·ε, with fresh noise ε; the last step's
// x0 is the result.
//
// σ_t is not t/1000: FastVideo looks t up in the training table of
// FlowMatchEulerDiscreteScheduler(shift=8) — σ_i = shift(i/1000), i = 1000..1, in float32, with
// timestep σ_i·1000 — and takes the σ whose timestep is nearest (the first on a tie). 757 gives
// σ = 0.756757 (table timestep 756.757), 522 gives 0.521739.
#pragma once

#include <span>
#include <string>

#include "core/tensor.h"

namespace fastvideo {

// DmdDenoisingStage hard-codes this shift, whatever the pipeline's flow_shift.
inline constexpr double kDmdShift = 8.0;

// σ of a DMD timestep: the float32 table value described above (exact as a double).
double dmd_sigma(int timestep, double shift = kDmdShift, int num_train_timesteps = 1000);

// Why `timesteps` cannot be a DMD schedule (empty, a value outside [0, 1000], not strictly
// decreasing), or "" when it can. FastVideo checks none of this: an empty list there decodes the
// starting noise, and a repeated or rising timestep re-noises upwards.
std::string invalid_dmd_timesteps(std::span<const int> timesteps);

// "[1000, 757, 522]"
std::string format_dmd_timesteps(std::span<const int> timesteps);

// x0 = x_t − σ·v, in double per element (pred_noise_to_pred_video upcasts both to float64), in
// v's dtype (it casts the result back to the model output's dtype).
Tensor dmd_predict_x0(const Tensor& x_t, const Tensor& v, double sigma);

// (1 − σ)·x0 + σ·ε in float32, each product and the sum rounded as torch's float32 tensor ops
// round them (FlowMatchEulerDiscreteScheduler.add_noise). x0 any float dtype, ε f32; f32 result.
Tensor dmd_add_noise(const Tensor& x0, const Tensor& noise, double sigma);

}  // namespace fastvideo
