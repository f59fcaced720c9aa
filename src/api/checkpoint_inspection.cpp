#include "fastvideo/checkpoint_info.h"
#include "io/checkpoint.h"
#include "models/umt5/umt5_encoder.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/vae/wan_vae_config.h"
#include "models/wan/vae/wan_vae_specs.h"
#include "pipeline/prompt_encoder.h"
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
  const T5Tokenizer tokenizer = T5Tokenizer::load(checkpoint.path("tokenizer"));
  s.tokenizer_vocab_size = tokenizer.vocab_size();
  s.scheduler_config = checkpoint.config("scheduler").json().dump();
  try {
    const Umt5Config umt5 = Umt5Config::from_checkpoint(checkpoint);
    check_tokenizer_fits(tokenizer, umt5, checkpoint);
    WanTransformerConfig::from_checkpoint(checkpoint);
    WanVaeConfig::from_checkpoint(checkpoint);
  } catch (const Error& e) {
    s.refused = e.what();
  }
  return s;
}

void check_checkpoint(const std::filesystem::path& dir,
                      const std::function<void(const std::string&, int64_t)>& checked) {
  const auto report = [&](const std::string& component, int64_t values) {
    if (checked) checked(component, values);
  };
  const CheckpointFolder checkpoint = open_wan_checkpoint(dir);
  // The transformer with whatever per-block extras it carries (VSA gates, SLA proj_l): every
  // tensor the checkpoint holds for some backend is checked, read or not by the one chosen later.
  const WanTransformerConfig dit = WanTransformerConfig::from_checkpoint(checkpoint);
  const std::set<std::string> names = component_tensor_names(checkpoint.path("transformer"));
  const WanBlockExtras extras{.gate = find_vsa_gate_layout(names, dit.num_layers),
                              .proj_l = find_sla_proj_l(names, dit.num_layers)};
  report("transformer", check_component_values(checkpoint.path("transformer"),
                                               wan_transformer_specs(dit, extras)));
  const Umt5Config umt5 = Umt5Config::from_checkpoint(checkpoint);
  check_tokenizer_fits(T5Tokenizer::load(checkpoint.path("tokenizer")), umt5, checkpoint);
  report("text_encoder",
         check_component_values(checkpoint.path("text_encoder"), umt5_encoder_specs(umt5)));
  report("vae", check_component_values(checkpoint.path("vae"),
                                       wan_vae_specs(WanVaeConfig::from_checkpoint(checkpoint))));
}

}  // namespace fastvideo
