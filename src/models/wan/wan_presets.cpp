#include "models/wan/wan_presets.h"

#include <array>
#include <string>

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// FastVideo's FastWan2_1_T2V_480P_Config.dmd_denoising_steps.
constexpr int kFastWanTimesteps[] = {1000, 757, 522};

using Kind = WanPipelineKind;

// docs/tiny-model.md; wan21.md §0 (transformer), §3.1 (UMT5-XXL), §2.1 (VAE); fastvideo.md §1.6
// (sampling: 1.3B 480p CFG 3 shift 3, 14B 720p CFG 5 shift 5; VSA_sparsity 0 as FastVideoArgs).
// FastWan (§1.3, FastVideo's fast_wan_t2v_480p preset and FastWan2_1_T2V_480P_Config): 448×832,
// 61 frames, shift 8, the three DMD timesteps; guidance 1 because its DMD stage never runs CFG
// (FastVideo's preset says 3.0 and ignores it); VSA sparsity 0.8, the value its run files and
// examples use (FastVideo's own default stays 0.0).
constexpr std::array<WanModelPreset, 5> kPresets = {{
    {"tiny",
     "tiny",
     Kind::Wan,
     {2, 512, 2, 128},
     {128, 2, 256, 2, 0},
     {16},
     {64, 64, 9, 4, 3.0, 3.0, 16.0, 1024, 0.0, {}}},
    {"1.3b",
     "wan_t2v_1_3b",
     Kind::Wan,
     {12, 8960, 30, 4096},
     {4096, 64, 10240, 24, 256384},
     {96},
     {480, 832, 81, 50, 3.0, 3.0, 16.0, 1024, 0.0, {}}},
    {"14b",
     "wan_t2v_14b",
     Kind::Wan,
     {40, 13824, 40, 4096},
     {4096, 64, 10240, 24, 256384},
     {96},
     {720, 1280, 81, 50, 5.0, 5.0, 16.0, 1024, 0.0, {}}},
    {"fastwan",
     "fastwan_tiny",
     Kind::Dmd,
     {2, 512, 2, 128},
     {128, 2, 256, 2, 0},
     {16},
     {64, 64, 9, 3, 1.0, 8.0, 16.0, 1024, 0.8, kFastWanTimesteps}},
    {"fastwan-1.3b",
     "fast_wan_t2v_480p",
     Kind::Dmd,
     {12, 8960, 30, 4096},
     {4096, 64, 10240, 24, 256384},
     {96},
     {448, 832, 61, 3, 1.0, 8.0, 16.0, 1024, 0.8, kFastWanTimesteps}},
}};

}  // namespace

std::string_view wan_pipeline_class_name(WanPipelineKind kind) {
  return kind == WanPipelineKind::Dmd ? "WanDMDPipeline" : "WanPipeline";
}

const WanModelPreset& wan_model_preset(std::string_view size_name) {
  std::string choices;
  for (const WanModelPreset& p : kPresets) {
    if (p.size_name == size_name) return p;
    choices += (choices.empty() ? "" : ", ") + std::string(p.size_name);
  }
  fail("model size '", size_name, "' is not one of ", choices);
}

const WanModelPreset& wan_preset_for(const WanTransformerConfig& config, WanPipelineKind pipeline) {
  const WanModelPreset* tiny = nullptr;
  for (const WanModelPreset& p : kPresets) {
    if (p.pipeline != pipeline) continue;
    if (p.text_encoder.vocab == 0) {
      tiny = &p;
    } else if (p.transformer.layers == config.num_layers &&
               p.transformer.heads == config.num_attention_heads) {
      return p;
    }
  }
  return *tiny;
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
