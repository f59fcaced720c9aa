// diffusers FlowMatchEulerDiscreteScheduler(shift) (wan21.md §4.3): first-order Euler in σ,
// x_{k+1} = x_k + (σ_{k+1} − σ_k)·v_k. A debugging baseline; it needs more steps than UniPC.
#pragma once

#include "schedulers/scheduler.h"

namespace fastvideo {

class FlowMatchEulerScheduler final : public Scheduler {
 public:
  explicit FlowMatchEulerScheduler(double shift, int num_train_timesteps = 1000);

  void set_timesteps(int num_steps) override;
  const std::vector<double>& timesteps() const override { return timesteps_; }
  const std::vector<double>& sigmas() const override { return sigmas_; }
  Ref add_step(ops::LinearChain& chain, Ref v, int step_index, Ref sample) override;
  std::string name() const override { return "euler"; }

 private:
  double shift_;
  int num_train_timesteps_;
  double sigma_min_;  // shift(1/T) in float32, the last entry of the training table
  std::vector<double> timesteps_;
  std::vector<double> sigmas_;
};

}  // namespace fastvideo
