#include "pipeline/prompt_encoder.h"

namespace fastvideo {

PromptEncoder::PromptEncoder(const CheckpointFolder& checkpoint, Umt5Config config, Device device,
                             DType dtype, bool keep, std::optional<Umt5Offload> offload)
    : checkpoint_(checkpoint),
      config_(std::move(config)),
      device_(device),
      dtype_(dtype),
      keep_(keep),
      offload_(offload),
      tokenizer_(T5Tokenizer::load(checkpoint.path("tokenizer"))) {
  if (keep_) load();
}

PromptEncoder::~PromptEncoder() = default;

void PromptEncoder::load() {
  if (encoder_) return;
  encoder_ = std::make_unique<Umt5Encoder>(
      config_,
      load_component(checkpoint_.path("text_encoder"), umt5_encoder_specs(config_), dtype_,
                     offload_ ? Device::cpu() : device_),
      offload_);
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
