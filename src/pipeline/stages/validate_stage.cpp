#include "pipeline/stages/validate_stage.h"

#include "core/format_number.h"

namespace fastvideo {

ValidateStage::ValidateStage(const SamplingPreset& preset, const WanGeometry& geometry,
                             std::vector<std::pair<std::string, std::string>> engine_parameters,
                             CheckAttention check_attention)
    : preset_(preset),
      geometry_(geometry),
      engine_parameters_(std::move(engine_parameters)),
      check_attention_(std::move(check_attention)) {}

void ValidateStage::run(RequestState& state) {
  const ResolvedRequest& r = state.resolved = resolve_request(state.request, preset_, geometry_);
  if (check_attention_) {
    check_attention_(geometry_.token_grid(geometry_.latent_shape(r.num_frames, r.height, r.width)),
                     r.num_inference_steps);
  }
  // The output is checked (and an automatic name reserved) before any work: no generation is
  // wasted on a path it cannot write.
  if (!state.request.output_path.empty()) {
    state.output = std::make_unique<OutputTarget>(state.request.output_path, r.prompt,
                                                  state.request.overwrite);
  }
  // What the run applies: without CFG no negative prompt is encoded and no gating happens, so
  // neither is recorded as given (QA audit: a warned-about, unused value was recorded as used).
  state.result.parameters = {{"prompt", r.prompt},
                             {"negative_prompt", r.do_cfg() ? r.negative_prompt : ""},
                             {"seed", std::to_string(r.seed)},
                             {"num_frames", std::to_string(r.num_frames)},
                             {"height", std::to_string(r.height)},
                             {"width", std::to_string(r.width)},
                             {"num_inference_steps", std::to_string(r.num_inference_steps)},
                             {"guidance_scale", shortest(r.guidance_scale)},
                             {"flow_shift", shortest(r.flow_shift)},
                             {"cfg_gate_step", shortest(r.do_cfg() ? r.cfg_gate_step : 1.0)},
                             {"fps", shortest(r.fps)},
                             {"max_sequence_length", std::to_string(r.max_sequence_length)},
                             {"preset", r.preset}};
  state.result.parameters.insert(state.result.parameters.end(), engine_parameters_.begin(),
                                 engine_parameters_.end());
}

}  // namespace fastvideo
