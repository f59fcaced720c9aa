#include "fastvideo/checkpoint_info.h"
#include "io/checkpoint.h"
#include "pipeline/wan_checkpoint.h"
#include "tokenizer/t5_tokenizer.h"

namespace fastvideo {

CheckpointSummary inspect_checkpoint(const std::filesystem::path& dir) {
  const CheckpointFolder checkpoint = open_wan_checkpoint(dir);
  CheckpointSummary s;
  s.class_name = checkpoint.class_name();
  for (const char* component : {"transformer", "text_encoder", "vae"}) {
    s.components.push_back(summarize_component(checkpoint.path(component)));
  }
  s.tokenizer_vocab_size = T5Tokenizer::load(checkpoint.path("tokenizer")).vocab_size();
  s.scheduler_config = checkpoint.config("scheduler").json().dump();
  return s;
}

}  // namespace fastvideo
