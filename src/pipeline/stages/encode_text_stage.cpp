#include "pipeline/stages/encode_text_stage.h"

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
  } else if (state.request.negative_prompt) {
    log::warning("negative_prompt is not used: guidance_scale=", r.guidance_scale,
                 " runs one pass per step, without classifier-free guidance");
  }
  encoder_.release_unless_kept();  // its memory goes back before the DiT's activations need it
}

}  // namespace fastvideo
