// Per-model sampling defaults (fastvideo.md §1.6) and the request they complete.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fastvideo/video_generator.h"
#include "models/wan/wan_geometry.h"
#include "models/wan/wan_presets.h"

namespace fastvideo {

// wan21.md §3.3: the English negative prompt diffusers and FastVideo use for Wan.
extern const char* const kWanNegativePrompt;

struct SamplingPreset {
  std::string name;
  SamplingDefaults defaults;  // its dmd_timesteps are the preset's; see dmd_timesteps below
  std::string negative_prompt;
  WanPipelineKind pipeline = WanPipelineKind::Wan;
  // WanDMDPipeline: the timesteps its steps run at (the preset's, or dmd_denoising_steps); their
  // count is the request's step count.
  std::vector<int> dmd_timesteps;
};

// The preset of the model with this transformer and pipeline (wan_preset_for): Wan2.1 1.3B
// (480p), 14B (720p), FastWan2.1 1.3B (448p, 3 DMD steps), or the pipeline's tiny test model
// (docs/tiny-model.md) for anything smaller.
SamplingPreset sampling_preset_for(const WanTransformerConfig& transformer_config,
                                   WanPipelineKind pipeline = WanPipelineKind::Wan);

// A request with every field decided and validated.
struct ResolvedRequest {
  std::string prompt, negative_prompt;
  uint64_t seed;
  int num_frames, height, width, num_inference_steps, max_sequence_length;
  double guidance_scale, flow_shift, fps, cfg_gate_step;
  std::string preset;
  WanPipelineKind pipeline = WanPipelineKind::Wan;

  bool do_cfg() const { return guidance_scale > 1.0; }
  // Why this request runs without classifier-free guidance, for a message about a setting only CFG
  // uses (negative_prompt, cfg_gate_step); empty when it runs CFG.
  std::string no_cfg_reason() const;
};

inline constexpr double kMaxGuidanceScale = 100;
inline constexpr double kMaxFlowShift = 100;

// Fills unset fields from the preset and the environment (FASTVIDEO_CFG_GATE_STEP) and checks
// every value, sizes against the models' geometry; errors name the field, the value and what would
// work (wan21.md §4.1). For a WanDMDPipeline, whose DMD stage has no CFG, a fixed shift and one
// step per DMD timestep, guidance_scale > 1, a flow_shift other than 8 and a num_inference_steps
// other than the timestep count are refused rather than ignored as FastVideo ignores them. So is a
// cfg_gate_step below 1 in a request without CFG; FASTVIDEO_CFG_GATE_STEP, which is global, is
// only warned about then (EncodeTextStage), as a negative prompt without CFG is.
ResolvedRequest resolve_request(const GenerationRequest& request, const SamplingPreset& preset,
                                const WanGeometry& geometry);

}  // namespace fastvideo
