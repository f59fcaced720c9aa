#include "models/wan/wan_presets.h"

#include <array>
#include <string>

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// docs/tiny-model.md; wan21.md §0 (transformer), §3.1 (UMT5-XXL), §2.1 (VAE); fastvideo.md §1.6
// (sampling: 1.3B 480p CFG 3 shift 3, 14B 720p CFG 5 shift 5).
constexpr std::array<WanModelPreset, 3> kPresets = {{
    {"tiny",
     "tiny",
     {2, 512, 2, 128},
     {128, 2, 256, 2, 0},
     {16},
     {64, 64, 9, 4, 3.0, 3.0, 16.0, 1024}},
    {"1.3b",
     "wan_t2v_1_3b",
     {12, 8960, 30, 4096},
     {4096, 64, 10240, 24, 256384},
     {96},
     {480, 832, 81, 50, 3.0, 3.0, 16.0, 1024}},
    {"14b",
     "wan_t2v_14b",
     {40, 13824, 40, 4096},
     {4096, 64, 10240, 24, 256384},
     {96},
     {720, 1280, 81, 50, 5.0, 5.0, 16.0, 1024}},
}};

}  // namespace

std::span<const WanModelPreset> wan_model_presets() { return kPresets; }

const WanModelPreset& wan_model_preset(std::string_view size_name) {
  std::string choices;
  for (const WanModelPreset& p : kPresets) {
    if (p.size_name == size_name) return p;
    choices += (choices.empty() ? "" : ", ") + std::string(p.size_name);
  }
  fail("model size '", size_name, "' is not one of ", choices);
}

const WanModelPreset& wan_preset_for(const WanTransformerConfig& config) {
  for (const WanModelPreset& p : kPresets) {
    if (p.size_name != "tiny" && p.transformer.layers == config.num_layers &&
        p.transformer.heads == config.num_attention_heads) {
      return p;
    }
  }
  return kPresets.front();
}

WanTransformerConfig wan_transformer_config(const WanModelPreset& preset) {
  WanTransformerConfig c;
  c.num_attention_heads = preset.transformer.heads;
  c.attention_head_dim = 128;
  c.num_layers = preset.transformer.layers;
  c.ffn_dim = preset.transformer.ffn_dim;
  c.text_dim = preset.transformer.text_dim;
  return c;
}

}  // namespace fastvideo
