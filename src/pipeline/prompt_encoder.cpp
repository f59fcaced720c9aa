#include "pipeline/prompt_encoder.h"

namespace fastvideo {

PromptEncoder::PromptEncoder(const CheckpointFolder& checkpoint, Device device, DType dtype,
                             bool keep)
    : checkpoint_(checkpoint),
      device_(device),
      dtype_(dtype),
      keep_(keep),
      tokenizer_(T5Tokenizer::load(checkpoint.path("tokenizer"))) {
  if (keep_) load();
}

PromptEncoder::~PromptEncoder() = default;

void PromptEncoder::load() {
  if (encoder_) return;
  auto config = Umt5Config::from_json(checkpoint_.config("text_encoder"));
  encoder_ = std::make_unique<Umt5Encoder>(
      config, load_component(checkpoint_.path("text_encoder"), umt5_encoder_specs(config), dtype_,
                             device_));
}

Tensor PromptEncoder::encode(const std::string& prompt, int max_tokens, int64_t text_length) {
  load();
  const std::vector<int32_t> ids = tokenizer_.encode(prompt, max_tokens);
  return encoder_->encode_padded(ids, text_length);
}

void PromptEncoder::release_unless_kept() {
  if (!keep_) encoder_.reset();
}

}  // namespace fastvideo
