#include "pipeline/stages/write_stage.h"

#include "io/video_writer.h"

namespace fastvideo {

bool WriteStage::applies(const RequestState& state) const { return state.output != nullptr; }

void WriteStage::run(RequestState& state) {
  VideoMetadata metadata;
  for (const auto& [key, value] : state.result.parameters) metadata.entries[key] = value;
  write_video(state.video, state.output->path(), metadata, state.output->may_replace(), &stop_);
  state.output->committed();
  state.result.output_path = state.output->path();
}

}  // namespace fastvideo
