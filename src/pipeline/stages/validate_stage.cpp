#include "pipeline/stages/validate_stage.h"

#include <unistd.h>

#include <sstream>

#include "io/video_writer.h"

namespace fastvideo {

namespace {

// Fails before any work when the output cannot be written (no wasted generation, no partial
// files).
void check_output_path(const std::filesystem::path& out, bool overwrite) {
  if (out.empty()) return;
  video_format_for(out);  // rejects unknown extensions by name
  if (std::filesystem::exists(out) && !overwrite) {
    fail(out.string(), " exists; pass --overwrite to replace it");
  }
  std::filesystem::path dir = out.has_parent_path() ? out.parent_path() : ".";
  if (!std::filesystem::is_directory(dir))
    fail(out.string(), ": directory ", dir.string(), " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    fail(out.string(), ": directory ", dir.string(), " is not writable");
}

std::string format_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

ValidateStage::ValidateStage(const SamplingPreset& preset, const WanGeometry& geometry,
                             std::vector<std::pair<std::string, std::string>> engine_parameters)
    : preset_(preset), geometry_(geometry), engine_parameters_(std::move(engine_parameters)) {}

void ValidateStage::run(RequestState& state) {
  const ResolvedRequest& r = state.resolved = resolve_request(state.request, preset_, geometry_);
  check_output_path(state.request.output_path, state.request.overwrite);
  state.result.parameters = {{"prompt", r.prompt},
                             {"negative_prompt", r.negative_prompt},
                             {"seed", std::to_string(r.seed)},
                             {"num_frames", std::to_string(r.num_frames)},
                             {"height", std::to_string(r.height)},
                             {"width", std::to_string(r.width)},
                             {"num_inference_steps", std::to_string(r.num_inference_steps)},
                             {"guidance_scale", format_double(r.guidance_scale)},
                             {"flow_shift", format_double(r.flow_shift)},
                             {"cfg_gate_step", format_double(r.cfg_gate_step)},
                             {"fps", format_double(r.fps)},
                             {"preset", r.preset}};
  state.result.parameters.insert(state.result.parameters.end(), engine_parameters_.begin(),
                                 engine_parameters_.end());
}

}  // namespace fastvideo
