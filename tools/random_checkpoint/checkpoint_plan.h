// The layout of a real-size Wan2.1 checkpoint (1.3B, 14B, FastWan 1.3B) decided before anything is
// written: configs, tensor names and shapes, shard files and the index weight_map, so load, memory
// and speed measurements can use the real layout without writing it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/checkpoint.h"
#include "models/wan/wan_presets.h"

namespace fastvideo {

// One weight-carrying component of a real-size checkpoint as it will be written.
struct ComponentPlan {
  std::string folder;             // "transformer", "text_encoder", "vae"
  nlohmann::ordered_json config;  // its config.json
  ShardPlan weights;
};

// The transformer (with the VSA gates of a FastWan preset), text encoder and VAE of a real-size
// preset (not tiny: its layout is fixed by
// docs/tiny-model.md). Shards are split as huggingface_hub splits at 5 GB of F32 (1.3B
// transformer: 2 files; UMT5-XXL: 5 files; VAE: 1 file); a BF16 text encoder keeps the same
// files and tensors per file, at half the bytes, and so does a BF16 transformer (a 14B checkpoint
// then takes 28 GB instead of 57).
std::vector<ComponentPlan> plan_checkpoint(const WanModelPreset& preset, DType text_encoder_dtype,
                                           DType transformer_dtype = DType::F32);

}  // namespace fastvideo
