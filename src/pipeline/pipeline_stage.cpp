#include "pipeline/pipeline_stage.h"

#include <string>

#include "pipeline/stage_clock.h"

namespace fastvideo {

void run_stages(std::span<const std::unique_ptr<PipelineStage>> stages, RequestState& state,
                Device device, const StopFlag& stop) {
  for (const auto& stage : stages) {
    if (!stage->applies(state)) continue;
    stop.throw_if_requested(str_cat("the ", stage->name(), " stage"));
    StageClock clock(state.result.stages, std::string(stage->name()), device);
    stage->run(state);
  }
}

}  // namespace fastvideo
