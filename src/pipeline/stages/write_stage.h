// write: the frames to the request's output path (MP4, Y4M or PNG frames) with the generation's
// parameters as metadata; atomic, and stopped cleanly (nothing left behind) on request.
#pragma once

#include "core/stop_flag.h"
#include "pipeline/pipeline_stage.h"

namespace fastvideo {

class WriteStage final : public PipelineStage {
 public:
  explicit WriteStage(const StopFlag& stop) : stop_(stop) {}
  std::string_view name() const override { return "write"; }
  bool applies(const RequestState& state) const override;
  void run(RequestState& state) override;

 private:
  const StopFlag& stop_;
};

}  // namespace fastvideo
