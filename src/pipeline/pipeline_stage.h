// One step of a generation (DESIGN §1: validate → encode text → prepare timesteps → prepare
// latents → denoise → decode → write). A pipeline is a list of stages over one RequestState; a
// second pipeline (FastWan's few-step DMD loop, image-to-video) reuses the stages it shares and
// replaces the others.
#pragma once

#include <memory>
#include <span>
#include <string_view>

#include "core/device.h"
#include "core/stop_flag.h"
#include "pipeline/request_state.h"

namespace fastvideo {

class PipelineStage {
 public:
  virtual ~PipelineStage() = default;
  // The name its StageReport carries ("denoise").
  virtual std::string_view name() const = 0;
  // Whether the stage has work for this request (writing has none without an output path).
  virtual bool applies(const RequestState&) const { return true; }
  virtual void run(RequestState& state) = 0;
};

// Runs the stages that apply, in order, each timed with its peak memory (on `device` too when it
// is a GPU) into state.result.stages. A requested stop is honoured before each stage.
void run_stages(std::span<const std::unique_ptr<PipelineStage>> stages, RequestState& state,
                Device device, const StopFlag& stop);

}  // namespace fastvideo
