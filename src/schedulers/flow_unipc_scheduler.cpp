// Schedule of FastVideo's FlowUniPCMultistepScheduler (fastvideo.md §1.3 item 4):
//  init:  σ_train = 1 − linspace(1, 1/T, T)[::-1] in float32, shifted once in float32 torch math;
//         σ_max = σ_train[0] = shift(0.999), σ_min = σ_train[−1] = 0.
//  set_timesteps(N): σ = linspace(σ_max, σ_min, N+1)[:−1] in double, shifted again,
//         timesteps = int64(σ·T) (truncation), sigmas = float32(σ) with 0 appended.
// Unlike diffusers (unipc_multistep_scheduler.cpp) there is no σ_0 = 1 − 1e-6 adjustment: the
// double shift keeps σ_0 below 1. FastVideo clamps α, σ at 1e-12 inside log; at σ_N = 0 that
// makes the last update (1 − 1e-11)·m instead of m, which float32 math (theirs) rounds to m too.
#include "schedulers/flow_unipc_scheduler.h"

#include <cmath>

namespace fastvideo {

FlowUniPCScheduler::FlowUniPCScheduler(double shift, int num_train_timesteps)
    : shift_(shift), num_train_timesteps_(num_train_timesteps), solver_(UniPCOptions{}) {
  FV_CHECK(shift > 0, "flow_unipc: flow_shift must be positive, got ", shift);
  FV_CHECK(num_train_timesteps > 1, "flow_unipc: num_train_timesteps must be > 1, got ",
           num_train_timesteps);
  // σ_train[0] = 1 − (reversed linspace)[0] = 1 − 1/T, stored as float32 and shifted in float32.
  sigma_max_ = double(shift_sigma_f32(float(1.0 - 1.0 / num_train_timesteps), shift));
}

void FlowUniPCScheduler::set_timesteps(int num_steps) {
  FV_CHECK(num_steps >= 1, "flow_unipc: num_steps must be >= 1, got ", num_steps);
  constexpr double kSigmaMin = 0.0;  // shift(1 − 1) of the training table's last entry
  timesteps_.clear();
  sigmas_.clear();
  for (int i = 0; i < num_steps; ++i) {
    const double s = shift_sigma(numpy_linspace(sigma_max_, kSigmaMin, num_steps + 1, i), shift_);
    timesteps_.push_back(std::trunc(s * num_train_timesteps_));
    sigmas_.push_back(double(float(s)));
  }
  sigmas_.push_back(0.0);
  check_noise_levels(sigmas_, shift_, "flow_unipc");
  solver_.reset(sigmas_);
}

Scheduler::Ref FlowUniPCScheduler::add_step(ops::LinearChain& chain, Ref v, int step_index,
                                            Ref sample) {
  return solver_.add_step(chain, v, step_index, sample);
}

}  // namespace fastvideo
