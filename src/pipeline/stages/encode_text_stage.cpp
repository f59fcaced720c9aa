#include "pipeline/stages/encode_text_stage.h"

#include "core/format_number.h"
#include "fastvideo/log.h"
#include "models/wan/wan_geometry.h"
#include "ops/elementwise.h"

namespace fastvideo {

EncodeTextStage::EncodeTextStage(PromptEncoder& encoder, const WanTransformer& transformer)
    : encoder_(encoder), transformer_(transformer) {}

void EncodeTextStage::run(RequestState& state) {
  const ResolvedRequest& r = state.resolved;
  // An overflow in the text encoder (weights out of its dtype's range) used to surface as the
  // transformer's NaN at denoising step 0: named here, where it happens.
  const auto encode = [&](const std::string& prompt, const char* which) {
    Tensor embeddings =
        encoder_.encode(prompt, r.max_sequence_length, WanGeometry::kTextLength, which);
    FV_CHECK(ops::all_finite(embeddings), "the text encoder's output for the ", which,
             " contains NaN or Inf (are the text_encoder weights finite and within ",
             dtype_name(embeddings.dtype()), "'s range?)");
    return embeddings;
  };
  state.cond_text = transformer_.prepare_text(encode(r.prompt, "prompt"));
  if (r.do_cfg()) {
    state.uncond_text = transformer_.prepare_text(encode(r.negative_prompt, "negative prompt"));
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
