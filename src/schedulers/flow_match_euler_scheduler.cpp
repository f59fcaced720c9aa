// diffusers FlowMatchEulerDiscreteScheduler (wan21.md §4.3):
//  init:  σ_train = shift(linspace(1, T, T)[::-1] / T) in float32; σ_max = 1, σ_min = shift(1/T).
//  set_timesteps(N): t = linspace(T·σ_max, T·σ_min, N) in double, σ = shift(t/T) (the shift is
//         applied to σ_min a second time), sigmas = float32(σ) with 0 appended,
//         timesteps = float32(σ)·T in float32 (not truncated).
// diffusers casts each step's result to the model output's dtype; here it stays f32.
#include "schedulers/flow_match_euler_scheduler.h"

namespace fastvideo {

FlowMatchEulerScheduler::FlowMatchEulerScheduler(double shift, int num_train_timesteps)
    : shift_(shift), num_train_timesteps_(num_train_timesteps) {
  FV_CHECK(shift > 0, "euler: flow_shift must be positive, got ", shift);
  FV_CHECK(num_train_timesteps > 1, "euler: num_train_timesteps must be > 1, got ",
           num_train_timesteps);
  // float32 tensor ops: t = 1.0f, t / T, then the float32 shift.
  const float t_first = 1.0f / float(num_train_timesteps);
  sigma_min_ = double(shift_sigma_f32(t_first, shift));
}

void FlowMatchEulerScheduler::set_timesteps(int num_steps) {
  FV_CHECK(num_steps >= 1, "euler: num_steps must be >= 1, got ", num_steps);
  const double t_train = num_train_timesteps_;
  timesteps_.clear();
  sigmas_.clear();
  for (int i = 0; i < num_steps; ++i) {
    const double t =
        num_steps == 1 ? t_train : numpy_linspace(t_train, sigma_min_ * t_train, num_steps, i);
    const float sigma = float(shift_sigma(t / t_train, shift_));
    sigmas_.push_back(double(sigma));
    timesteps_.push_back(double(sigma * float(num_train_timesteps_)));
  }
  sigmas_.push_back(0.0);
  check_noise_levels(sigmas_, shift_, "euler");
}

Scheduler::Ref FlowMatchEulerScheduler::add_step(ops::LinearChain& chain, Ref v, int step_index,
                                                 Ref sample) {
  FV_CHECK(!sigmas_.empty(), "euler: step before set_timesteps");
  FV_CHECK(step_index >= 0 && step_index + 1 < int(sigmas_.size()), "euler: step index ",
           step_index, " outside 0..", int(sigmas_.size()) - 2);
  // The float32 difference of two float32 sigmas, as diffusers forms dt.
  const float dt = float(sigmas_[size_t(step_index) + 1]) - float(sigmas_[size_t(step_index)]);
  return chain.combine({{sample, 1.0}, {v, double(dt)}}, DType::F32);
}

}  // namespace fastvideo
