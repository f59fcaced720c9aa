// FastVideo's default Wan scheduler, FlowUniPCMultistepScheduler (fastvideo.md §1.3 item 4): UniPC
// order 2, bh2, predict_x0, lower_order_final, final sigma 0, with the Wan-official schedule that
// applies the flow shift twice.
#pragma once

#include "schedulers/scheduler.h"
#include "schedulers/unipc_solver.h"

namespace fastvideo {

class FlowUniPCScheduler final : public Scheduler {
 public:
  explicit FlowUniPCScheduler(double shift, int num_train_timesteps = 1000);

  void set_timesteps(int num_steps) override;
  const std::vector<double>& timesteps() const override { return timesteps_; }
  const std::vector<double>& sigmas() const override { return sigmas_; }
  Ref add_step(ops::LinearChain& chain, Ref v, int step_index, Ref sample) override;
  std::string name() const override { return "flow_unipc"; }

  const UniPCSolver& solver() const { return solver_; }
  double sigma_max() const { return sigma_max_; }

 private:
  double shift_;
  int num_train_timesteps_;
  double sigma_max_;  // first entry of the shifted float32 training table
  std::vector<double> timesteps_;
  std::vector<double> sigmas_;
  UniPCSolver solver_;
};

}  // namespace fastvideo
