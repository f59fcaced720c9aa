#include "pipeline/stages/prepare_timesteps_stage.h"

#include "schedulers/make_scheduler.h"

namespace fastvideo {

PrepareTimestepsStage::PrepareTimestepsStage(std::string scheduler, JsonFile scheduler_config)
    : scheduler_(std::move(scheduler)), scheduler_config_(std::move(scheduler_config)) {
  // A scheduler name or config it cannot use fails now, before any model runs.
  make_scheduler(scheduler_, 1.0, &scheduler_config_);
}

void PrepareTimestepsStage::run(RequestState& state) {
  state.scheduler = make_scheduler(scheduler_, state.resolved.flow_shift, &scheduler_config_);
  state.scheduler->set_timesteps(state.resolved.num_inference_steps);
  state.result.parameters.emplace_back("scheduler", state.scheduler->name());
}

}  // namespace fastvideo
