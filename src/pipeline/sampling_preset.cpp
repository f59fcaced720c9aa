#include "pipeline/sampling_preset.h"

#include <cmath>

#include "core/env.h"
#include "core/format_number.h"
#include "core/utf8.h"
#include "fastvideo/log.h"
#include "schedulers/dmd_schedule.h"

namespace fastvideo {

const char* const kWanNegativePrompt =
    "Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, "
    "images, static, overall gray, worst quality, low quality, JPEG compression residue, ugly, "
    "incomplete, extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, "
    "misshapen limbs, fused fingers, still picture, messy background, three legs, many people in "
    "the background, walking backwards";

SamplingPreset sampling_preset_for(const WanTransformerConfig& transformer_config,
                                   WanPipelineKind pipeline) {
  const WanModelPreset& preset = wan_preset_for(transformer_config, pipeline);
  // A real model of no preset's size (FastWan2.1 14B, say) gets the tiny test model's defaults:
  // said, so that a 64x64 video is not a surprise (audit).
  if (preset.text_encoder.vocab == 0 &&
      (transformer_config.num_layers > preset.transformer.layers ||
       transformer_config.num_attention_heads > preset.transformer.heads)) {
    const SamplingDefaults& d = preset.sampling;
    log::warning("no ", wan_pipeline_class_name(pipeline), " preset has a transformer of ",
                 transformer_config.num_layers, " layers and ",
                 transformer_config.num_attention_heads,
                 " heads, so the defaults are the tiny test model's (", d.height, "x", d.width,
                 ", ", d.num_frames, " frames, ", d.num_inference_steps,
                 " steps); set height, width, num_frames and num_inference_steps for this model");
  }
  const std::span<const int> dmd = preset.sampling.dmd_timesteps;
  return {std::string(preset.preset_name), preset.sampling, kWanNegativePrompt, pipeline,
          std::vector<int>(dmd.begin(), dmd.end())};
}

std::string ResolvedRequest::no_cfg_reason() const {
  if (do_cfg()) return "";
  if (pipeline == WanPipelineKind::Dmd) {
    return "the WanDMDPipeline (FastWan) runs one conditional transformer pass per step and no "
           "classifier-free guidance";
  }
  return str_cat("guidance_scale=", shortest(guidance_scale),
                 " runs one pass per step, without classifier-free guidance");
}

namespace {

constexpr const char* kCfgGateStepEnv = "FASTVIDEO_CFG_GATE_STEP";

// Prompts reach the tokenizer, the metadata and file names: valid UTF-8 without NUL bytes.
void check_text(const char* field, const std::string& text) {
  const size_t nul = text.find('\0');
  FV_CHECK(nul == std::string::npos, field, " holds a NUL byte at offset ", nul);
  const std::string why = utf8_violation(text);
  FV_CHECK(why.empty(), field, " is not valid UTF-8: ", why);
}

// fastvideo.md §1.3: FastVideo's DmdDenoisingStage runs one conditional pass per DMD timestep with
// FlowMatchEulerDiscreteScheduler(shift=8); it ignores guidance, the flow shift and the step count.
// Here a value that would be ignored is refused by name.
void check_dmd_request(const ResolvedRequest& r, const SamplingPreset& preset) {
  const std::string timesteps = format_dmd_timesteps(preset.dmd_timesteps);
  FV_CHECK(r.guidance_scale <= 1.0, "guidance_scale=", r.guidance_scale,
           ": the WanDMDPipeline (FastWan) runs one conditional transformer pass per step and no "
           "classifier-free guidance; leave guidance_scale unset or at most 1");
  FV_CHECK(r.flow_shift == kDmdShift, "flow_shift=", r.flow_shift,
           ": the WanDMDPipeline (FastWan) takes its noise levels from FastVideo's fixed "
           "shift-8 flow-match table; leave flow_shift unset or 8");
  FV_CHECK(r.num_inference_steps == int(preset.dmd_timesteps.size()),
           "num_inference_steps=", r.num_inference_steps,
           ": the WanDMDPipeline (FastWan) runs one step per DMD timestep, ", timesteps, " (",
           preset.dmd_timesteps.size(),
           " steps); change generator.pipeline.experimental.dmd_denoising_steps instead");
}

}  // namespace

ResolvedRequest resolve_request(const GenerationRequest& q, const SamplingPreset& preset,
                                const WanGeometry& geometry) {
  const SamplingDefaults& p = preset.defaults;
  ResolvedRequest r;
  r.prompt = q.prompt;
  r.negative_prompt = q.negative_prompt.value_or(preset.negative_prompt);
  r.seed = q.seed.value_or(p.seed);
  r.num_frames = q.num_frames.value_or(p.num_frames);
  r.height = q.height.value_or(p.height);
  r.width = q.width.value_or(p.width);
  r.num_inference_steps = q.num_inference_steps.value_or(preset.pipeline == WanPipelineKind::Dmd
                                                             ? int(preset.dmd_timesteps.size())
                                                             : p.num_inference_steps);
  r.guidance_scale = q.guidance_scale.value_or(p.guidance_scale);
  r.flow_shift = q.flow_shift.value_or(p.flow_shift);
  r.fps = q.fps.value_or(p.fps);
  r.max_sequence_length = q.max_sequence_length;
  r.preset = preset.name;
  r.pipeline = preset.pipeline;

  // fastvideo.md §5: FASTVIDEO_CFG_GATE_STEP must be a number in [0, 1]; 1.0 disables gating.
  // The request's value wins over the variable; say so, so that the variable is not taken as used.
  if (const auto env = env_string(kCfgGateStepEnv); q.cfg_gate_step && env)
    warn_env_not_used(kCfgGateStepEnv, *env, str_cat("cfg_gate_step=", shortest(*q.cfg_gate_step)));
  r.cfg_gate_step = q.cfg_gate_step ? *q.cfg_gate_step : env_double(kCfgGateStepEnv, 1.0, 0.0, 1.0);
  FV_CHECK(r.cfg_gate_step >= 0.0 && r.cfg_gate_step <= 1.0,
           "cfg_gate_step=", shortest(r.cfg_gate_step), " is not a number in [0, 1]");

  FV_CHECK(!r.prompt.empty(), "prompt is empty; give a prompt (--prompt \"...\")");
  check_text("prompt", r.prompt);
  check_text("negative_prompt", r.negative_prompt);
  // Python's whitespace, as a prompt list's check in the Python package and prompt files read it
  // (an ideographic space alone ran here but was refused in a list).
  FV_CHECK(!strip_python_space(r.prompt).empty(),
           "prompt holds only whitespace; give a prompt (--prompt \"...\")");
  const std::string bad_size = geometry.invalid_size(r.num_frames, r.height, r.width);
  FV_CHECK(bad_size.empty(), bad_size);
  FV_CHECK(r.num_inference_steps >= 1 && r.num_inference_steps <= 1000,
           "num_inference_steps=", r.num_inference_steps, " must be in [1, 1000]");
  // Far beyond any useful value (Wan uses 3 to 6 and 3 to 12); past them the latents overflow and
  // the failure would surface in the transformer, far from its cause.
  FV_CHECK(std::isfinite(r.guidance_scale) && r.guidance_scale >= 0 &&
               r.guidance_scale <= kMaxGuidanceScale,
           "guidance_scale=", shortest(r.guidance_scale), " must be in [0, ", kMaxGuidanceScale,
           "]");
  FV_CHECK(std::isfinite(r.flow_shift) && r.flow_shift > 0 && r.flow_shift <= kMaxFlowShift,
           "flow_shift=", shortest(r.flow_shift), " must be in (0, ", kMaxFlowShift, "]");
  // Below 0.01 the writers cannot express the rate: Y4M's F<num>:<den> rounds it to 0 and
  // libx264 refuses the time base, both only after the whole generation.
  FV_CHECK(std::isfinite(r.fps) && r.fps >= 0.01 && r.fps <= 240, "fps=", shortest(r.fps),
           " must be in [0.01, 240]");
  FV_CHECK(r.max_sequence_length >= 1 && r.max_sequence_length <= WanGeometry::kTextLength,
           "max_sequence_length=", r.max_sequence_length, " must be in [1, ",
           WanGeometry::kTextLength, "]");
  if (preset.pipeline == WanPipelineKind::Dmd) check_dmd_request(r, preset);
  // fastvideo.md §5: the gate skips the unconditional pass, which a request without CFG never runs.
  // 1 (no gating) changes nothing and is accepted, as in the full run file of docs/config.md.
  FV_CHECK(!q.cfg_gate_step || *q.cfg_gate_step >= 1.0 || r.do_cfg(),
           "cfg_gate_step=", shortest(*q.cfg_gate_step), " is not used: ", r.no_cfg_reason(),
           "; leave cfg_gate_step unset or at 1",
           r.pipeline == WanPipelineKind::Dmd ? "" : ", or set guidance_scale above 1");
  // Given latents: checked here, so that resolve() refuses what generate() would, before any work.
  if (!q.initial_latents.empty()) {
    const Shape shape = geometry.latent_shape(r.num_frames, r.height, r.width);
    FV_CHECK(int64_t(q.initial_latents.size()) == shape_numel(shape), "initial_latents has ",
             q.initial_latents.size(), " values; the request needs ", shape_str(shape));
    for (size_t i = 0; i < q.initial_latents.size(); ++i) {
      FV_CHECK(std::isfinite(q.initial_latents[i]), "initial_latents[", i, "] is ",
               q.initial_latents[i], "; latents must be finite");
    }
  }
  return r;
}

}  // namespace fastvideo
