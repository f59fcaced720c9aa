// Random Wan VAE decoder weights for tests, scaled so activations stay O(1) through the decoder:
// convs ~ 1/√fan_in, norm gains near 1, small biases. Shared by the CPU and CUDA VAE tests.
#pragma once

#include "io/weights.h"
#include "models/wan/vae/wan_vae_config.h"

namespace fastvideo::testing {

Weights random_vae_weights(const WanVaeConfig& config);

}  // namespace fastvideo::testing
