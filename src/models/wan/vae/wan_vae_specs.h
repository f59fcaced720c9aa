// Every tensor of the AutoencoderKLWan checkpoint (wan21.md §2.2–§2.5) by name and shape.
// The decoder side (post_quant_conv, decoder.*) is used; the encoder side (encoder.*,
// quant_conv) is known but unused by text-to-video.
#pragma once

#include <vector>

#include "io/weights.h"
#include "models/wan/vae/wan_vae_config.h"

namespace fastvideo {

std::vector<TensorSpec> wan_vae_specs(const WanVaeConfig& config);

}  // namespace fastvideo
