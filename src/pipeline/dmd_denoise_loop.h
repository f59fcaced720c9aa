// The denoising loop of FastVideo's WanDMDPipeline (DmdDenoisingStage, fastvideo.md §1.3; the math
// in schedulers/dmd_schedule.h), written once for the pipeline's dmd_denoise stage and the
// benchmarks. Per step: the step's attention metadata (one per step, shared by every layer), one
// conditional transformer forward (no CFG), the NaN check, x0 = x_t − σ_t·v, and for every step but
// the last the re-noising to the next timestep with noise drawn from the request's generator,
// frames-first as FastVideo draws it (pipeline/latent_noise.h). The last step's x0 is the result.
// The latents stay on the model's device; the noise is drawn on the host and copied there.
#pragma once

#include <span>

#include "core/torch_random.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/wan_geometry.h"
#include "pipeline/sparse_attention_settings.h"
#include "pipeline/denoise_loop.h"

namespace fastvideo {

struct DmdDenoiseLoop {
  const WanTransformer& transformer;
  const WanGeometry& geometry;
  const WanTransformer::TextContext& text;
  std::span<const int> timesteps;  // dmd_denoising_steps, checked (invalid_dmd_timesteps)
  SparseAttentionSettings sparse;  // the resolved VSA_sparsity and SLA topk_ratio
  TorchGenerator& generator;       // the request's, after the starting latents were drawn
};

// Runs every step on `latents` ([1, 16, T, H, W], f32), which end as the last step's x0 (in the
// transformer's output dtype). Returns the transformer forwards run (one per step).
int run_dmd_denoise_loop(const DmdDenoiseLoop& loop, Tensor& latents,
                         const DenoiseStepDone& step_done);

}  // namespace fastvideo
