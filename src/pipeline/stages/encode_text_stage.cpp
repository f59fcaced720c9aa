#include "pipeline/stages/encode_text_stage.h"

#include "core/format_number.h"
#include "fastvideo/log.h"
#include "models/wan/wan_geometry.h"

namespace fastvideo {

EncodeTextStage::EncodeTextStage(PromptEncoder& encoder, const WanTransformer& transformer)
    : encoder_(encoder), transformer_(transformer) {}

void EncodeTextStage::run(RequestState& state) {
  const ResolvedRequest& r = state.resolved;
  state.cond_text = transformer_.prepare_text(
      encoder_.encode(r.prompt, r.max_sequence_length, WanGeometry::kTextLength));
  if (r.do_cfg()) {
    state.uncond_text = transformer_.prepare_text(
        encoder_.encode(r.negative_prompt, r.max_sequence_length, WanGeometry::kTextLength));
  } else {
    // Said once per generation, here rather than in resolve_request, which a server runs for every
    // field of a request. A negative prompt is not refused: FastVideo's own FastWan run file sets
    // one for its CFG-free DMD (fastvideo serve refuses it, video_request.cpp). The variable is
    // global and may be meant for other runs; an explicit cfg_gate_step was refused already.
    if (state.request.negative_prompt) {
      log::warning("negative_prompt is not used: ", r.no_cfg_reason());
    }
    if (!state.request.cfg_gate_step && r.cfg_gate_step < 1.0) {
      log::warning("FASTVIDEO_CFG_GATE_STEP=", shortest(r.cfg_gate_step),
                   " is ignored: ", r.no_cfg_reason());
    }
  }
  encoder_.release_unless_kept();  // its memory goes back before the DiT's activations need it
}

}  // namespace fastvideo
