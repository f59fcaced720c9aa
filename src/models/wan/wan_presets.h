// The Wan2.1 T2V models this engine knows, in one table: the real 1.3B and 14B (wan21.md §0, §2.1,
// §3.1) and the tiny test model (docs/tiny-model.md). Each row holds the component sizes its
// diffusers configs give and FastVideo's sampling preset for it (fastvideo.md §1.6).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "models/wan/dit/wan_transformer_config.h"

namespace fastvideo {

// A request's defaults where the caller leaves a field unset.
struct SamplingDefaults {
  int height, width, num_frames, num_inference_steps;
  double guidance_scale, flow_shift, fps;
  uint64_t seed;
};

struct WanModelPreset {
  std::string_view size_name;    // "tiny", "1.3b", "14b" (make-tiny-model --config)
  std::string_view preset_name;  // FastVideo's preset: "wan_t2v_1_3b", "wan_t2v_14b"; "tiny"
  struct {
    int heads, ffn_dim, layers, text_dim;
  } transformer;
  struct {
    int d_model, heads, d_ff, layers;
    int vocab;  // 0: the tokenizer's vocabulary size (the tiny model)
  } text_encoder;
  struct {
    int base_dim;
  } vae;
  SamplingDefaults sampling;
};

// tiny, 1.3b and 14b, in that order.
std::span<const WanModelPreset> wan_model_presets();

// By size name; anything else throws naming the value and the choices.
const WanModelPreset& wan_model_preset(std::string_view size_name);

// The real preset whose transformer has this config's layers and heads; the tiny preset for any
// other (smaller, test) model.
const WanModelPreset& wan_preset_for(const WanTransformerConfig& config);

// The transformer config of a preset (the diffusers defaults for everything but the sizes).
WanTransformerConfig wan_transformer_config(const WanModelPreset& preset);

}  // namespace fastvideo
