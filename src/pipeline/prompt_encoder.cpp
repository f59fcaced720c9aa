#include "pipeline/prompt_encoder.h"

#include "fastvideo/log.h"

namespace fastvideo {

void check_tokenizer_fits(const T5Tokenizer& tokenizer, const Umt5Config& config,
                          const CheckpointFolder& checkpoint) {
  FV_CHECK(tokenizer.vocab_size() <= config.vocab_size,
           (checkpoint.path("tokenizer") / "spiece.model").string(), ": ", tokenizer.vocab_size(),
           " pieces, but ", (checkpoint.path("text_encoder") / "config.json").string(),
           " has vocab_size ", config.vocab_size,
           ": the text encoder has no embedding for the pieces past it");
}

PromptEncoder::PromptEncoder(const CheckpointFolder& checkpoint, Umt5Config config, Device device,
                             DType dtype, bool keep, bool stream, bool compile)
    : checkpoint_(checkpoint),
      config_(std::move(config)),
      device_(device),
      dtype_(dtype),
      keep_(keep),
      stream_(stream),
      compile_(compile),
      tokenizer_(T5Tokenizer::load(checkpoint.path("tokenizer"))) {
  check_tokenizer_fits(tokenizer_, config_, checkpoint);
  if (keep_) load();
}

PromptEncoder::~PromptEncoder() = default;

void PromptEncoder::load() {
  if (encoder_) return;
  const auto specs = umt5_encoder_specs(config_);
  const std::filesystem::path dir = checkpoint_.path("text_encoder");
  encoder_ =
      stream_ ? std::make_unique<Umt5Encoder>(
                    config_, std::make_shared<const MappedComponent>(dir, specs), device_, dtype_)
              : std::make_unique<Umt5Encoder>(config_, load_component(dir, specs, dtype_, device_));
  if (compile_) encoder_->enable_compile();
}

Tensor PromptEncoder::encode(const std::string& prompt, int max_tokens, int64_t text_length,
                             std::string_view what) {
  load();
  size_t tokens = 0;
  const std::vector<int32_t> ids = tokenizer_.encode(prompt, max_tokens, &tokens);
  // As the HF tokenizer cuts it (truncation=True), which says nothing either (QA audit: the
  // tail of a long prompt changed nothing, without a word).
  if (tokens > ids.size()) {
    log::warning("the ", what, " is ", tokens, " tokens; max_sequence_length ", max_tokens,
                 " keeps its first ", ids.size() - 1, " and the end token, so its last ",
                 tokens - ids.size(), " do not reach the model");
  }
  return encoder_->encode_padded(ids, text_length);
}

void PromptEncoder::release_unless_kept() {
  if (keep_ || !encoder_) return;
  released_stats_ += encoder_->compile_stats();
  released_stats_.graph_memory_bytes = 0;  // freed with the encoder
  encoder_.reset();
}

CompileStats PromptEncoder::compile_stats() const {
  CompileStats total = released_stats_;
  if (encoder_) total += encoder_->compile_stats();
  return total;
}

}  // namespace fastvideo
