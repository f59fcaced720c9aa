// prepare_timesteps: the scheduler and its schedule for the request's steps and flow shift
// (fastvideo.md §1.3 TimestepPreparationStage; FlowUniPC by default, wan21.md §4.2).
#pragma once

#include <string>

#include "io/json_file.h"
#include "pipeline/pipeline_stage.h"

namespace fastvideo {

class PrepareTimestepsStage final : public PipelineStage {
 public:
  // scheduler: a name make_scheduler knows; scheduler_config: the checkpoint's. Both are checked
  // here, when the pipeline is built.
  PrepareTimestepsStage(std::string scheduler, JsonFile scheduler_config);
  std::string_view name() const override { return "prepare_timesteps"; }
  void run(RequestState& state) override;

 private:
  std::string scheduler_;
  JsonFile scheduler_config_;
};

}  // namespace fastvideo
