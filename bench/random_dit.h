// The Wan transformer as the GPU benchmarks build it without a checkpoint: random weights made
// straight into device memory (bf16, the wan21.md §1.2 keep-list in f32, as the pipeline loads
// them), and the random inputs one forward takes (unit-variance latents, O(0.1) text embeddings).
// bench dit times it; bench attention --accuracy records its self-attention inputs.
#pragma once

#include "core/tensor.h"
#include "io/weights.h"
#include "models/wan/dit/wan_transformer.h"

namespace fastvideo::bench {

// Every tensor of wan_transformer_specs(config), random_weight(spec, seed 0) in bf16 or (the f32
// keep-list) f32 on `device`.
Weights random_dit_weights(const WanTransformerConfig& config, Device device);

struct RandomDitInputs {
  Tensor latents;                    // [1, C, T, H, W] f32 on the model's device
  WanTransformer::TextContext text;  // from 512 rows of text embeddings
};
// Latents ~ N(0, 1) as the noise is (torch_randn seed 1); UMT5 outputs are O(0.1), so the text
// embeddings are 0.2 · torch_randn seed 2, in bf16 as the pipeline hands them over.
RandomDitInputs random_dit_inputs(const WanTransformer& dit, const Shape& latent_shape);

}  // namespace fastvideo::bench
