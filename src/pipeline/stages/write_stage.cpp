#include "pipeline/stages/write_stage.h"

#include "io/video_writer.h"

namespace fastvideo {

bool WriteStage::applies(const RequestState& state) const {
  return !state.request.output_path.empty();
}

void WriteStage::run(RequestState& state) {
  VideoMetadata metadata;
  for (const auto& [key, value] : state.result.parameters) metadata.entries[key] = value;
  write_video(state.video, state.request.output_path, metadata, state.request.overwrite, &stop_);
  state.result.output_path = state.request.output_path;
}

}  // namespace fastvideo
