#include "pipeline/stages/encode_text_stage.h"

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
  }
  encoder_.release_unless_kept();  // its memory goes back before the DiT's activations need it
}

}  // namespace fastvideo
