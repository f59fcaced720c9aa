#include "fastvideo/sampling_preset.h"

#include "models/wan/dit/wan_transformer_config.h"
#include "pipeline/sampling_preset.h"
#include "pipeline/wan_checkpoint.h"

namespace fastvideo {

ModelSamplingPreset model_sampling_preset(const std::filesystem::path& model_dir) {
  const CheckpointFolder checkpoint = open_wan_checkpoint(model_dir);
  const WanPipelineKind kind = wan_pipeline_kind(checkpoint);
  // The same lookup TextToVideoPipeline makes, so the two never disagree.
  const SamplingPreset preset =
      sampling_preset_for(WanTransformerConfig::from_checkpoint(checkpoint), kind);
  const SamplingDefaults& d = preset.defaults;
  return {
      .name = preset.name,
      .pipeline = std::string(wan_pipeline_class_name(kind)),
      .height = d.height,
      .width = d.width,
      .num_frames = d.num_frames,
      .num_inference_steps =
          kind == WanPipelineKind::Dmd ? int(preset.dmd_timesteps.size()) : d.num_inference_steps,
      .guidance_scale = d.guidance_scale,
      .flow_shift = d.flow_shift,
      .fps = d.fps,
      .seed = d.seed,
      .negative_prompt = preset.negative_prompt,
      .dmd_denoising_steps = preset.dmd_timesteps,
  };
}

}  // namespace fastvideo
