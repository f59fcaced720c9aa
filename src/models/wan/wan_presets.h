// The Wan2.1 T2V models this engine knows, in one table: the real 1.3B and 14B (wan21.md §0, §2.1,
// §3.1), FastWan2.1-T2V-1.3B (the 1.3B distilled to 3 DMD steps, fastvideo.md §1.3) and the tiny
// test models (docs/tiny-model.md). Each row holds the pipeline its model_index.json names, the
// component sizes its diffusers configs give and FastVideo's sampling preset for it (§1.6).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "models/wan/dit/wan_transformer_config.h"

namespace fastvideo {

// The pipeline a checkpoint's model_index.json names (_class_name): FastVideo's WanPipeline (UniPC
// steps, CFG) or WanDMDPipeline (FastWan: a few DMD steps, one transformer pass each).
enum class WanPipelineKind { Wan, Dmd };

// "WanPipeline" or "WanDMDPipeline".
std::string_view wan_pipeline_class_name(WanPipelineKind kind);

// A request's defaults where the caller leaves a field unset.
struct SamplingDefaults {
  int height, width, num_frames, num_inference_steps;
  double guidance_scale, flow_shift, fps;
  uint64_t seed;
  // FastVideo's VSA_sparsity for this model, used when the self-attention backend is
  // VIDEO_SPARSE_ATTN and no sparsity is given.
  double vsa_sparsity;
  // WanDMDPipeline only: pipeline_config.dmd_denoising_steps, the timesteps of the DMD steps.
  std::span<const int> dmd_timesteps;
};

struct WanModelPreset {
  std::string_view size_name;    // make-tiny-model --config: "tiny", "1.3b", "fastwan", ...
  std::string_view preset_name;  // FastVideo's preset: "wan_t2v_1_3b", "fast_wan_t2v_480p", ...
  WanPipelineKind pipeline;
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

// By size name; anything else throws naming the value and the choices.
const WanModelPreset& wan_model_preset(std::string_view size_name);

// The real preset of `pipeline` whose transformer has this config's layers and heads; that
// pipeline's tiny preset for any other (smaller, test) model.
const WanModelPreset& wan_preset_for(const WanTransformerConfig& config,
                                     WanPipelineKind pipeline = WanPipelineKind::Wan);

// The transformer config of a preset (the diffusers defaults for everything but the sizes).
WanTransformerConfig wan_transformer_config(const WanModelPreset& preset);

}  // namespace fastvideo
