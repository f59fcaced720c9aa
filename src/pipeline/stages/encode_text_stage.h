// encode_text: the prompt (and, with CFG, the negative prompt) through UMT5, then what the DiT
// needs of them for every step (the text MLP and the cross-attention K/V, wan21.md §1.5).
#pragma once

#include "models/wan/dit/wan_transformer.h"
#include "pipeline/pipeline_stage.h"
#include "pipeline/prompt_encoder.h"

namespace fastvideo {

class EncodeTextStage final : public PipelineStage {
 public:
  EncodeTextStage(PromptEncoder& encoder, const WanTransformer& transformer);
  std::string_view name() const override { return "encode_text"; }
  void run(RequestState& state) override;

 private:
  PromptEncoder& encoder_;
  const WanTransformer& transformer_;
};

}  // namespace fastvideo
