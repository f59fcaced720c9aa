// diffusers' UniPCMultistepScheduler as shipped in the Wan checkpoints'
// scheduler/scheduler_config.json (wan21.md §4.2): flow sigmas, flow_prediction, predict_x0,
// bh1/bh2, order 1 or 2, lower_order_final, final sigma 0. Any other configuration is refused with
// the key and value.
#pragma once

#include <optional>

#include "io/json_file.h"
#include "schedulers/scheduler.h"
#include "schedulers/unipc_solver.h"

namespace fastvideo {

struct UniPCMultistepConfig {
  int num_train_timesteps = 1000;
  double flow_shift = 1.0;
  UniPCOptions solver;
};

class UniPCMultistepScheduler final : public Scheduler {
 public:
  explicit UniPCMultistepScheduler(UniPCMultistepConfig config);

  // Reads and validates scheduler_config.json; flow_shift, when given, replaces the file's value
  // (as diffusers' from_config(config, flow_shift=...) does).
  static UniPCMultistepScheduler from_config(const JsonFile& config,
                                             std::optional<double> flow_shift = std::nullopt);

  void set_timesteps(int num_steps) override;
  const std::vector<double>& timesteps() const override { return timesteps_; }
  const std::vector<double>& sigmas() const override { return sigmas_; }
  Ref add_step(ops::LinearChain& chain, Ref v, int step_index, Ref sample) override;
  std::string name() const override { return "checkpoint"; }

  const UniPCMultistepConfig& config() const { return config_; }
  const UniPCSolver& solver() const { return solver_; }

 private:
  UniPCMultistepConfig config_;
  std::vector<double> timesteps_;
  std::vector<double> sigmas_;
  UniPCSolver solver_;
};

}  // namespace fastvideo
