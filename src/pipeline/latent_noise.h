// Latent noise as FastVideo draws it from the request's generator (fastvideo.md §1.3): WanPipeline
// draws [B, C, T, H, W]; WanDMDPipeline keeps its latents frames-first (use_btchw_layout) and
// draws [B, T, C, H, W], both for the starting latents and for every re-noising step. The same
// seed so fills the tensor in a different order; the result here is always [B, C, T, H, W], f32,
// on the host.
#pragma once

#include "core/torch_random.h"
#include "models/wan/wan_presets.h"

namespace fastvideo {

Tensor draw_latent_noise(TorchGenerator& generator, const Shape& bcthw, WanPipelineKind pipeline);

}  // namespace fastvideo
