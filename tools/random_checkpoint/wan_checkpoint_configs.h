// The JSON files of a Wan2.1 T2V diffusers checkpoint (wan21.md §5) for a preset's sizes
// (models/wan/wan_presets.h), with every key the real repos' files carry.
#pragma once

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "io/weights.h"
#include "models/wan/dit/wan_transformer_config.h"
#include "models/wan/wan_presets.h"

namespace fastvideo {

// _class_name WanPipeline or WanDMDPipeline (FastWan), with the same five components.
nlohmann::ordered_json wan_model_index_json(WanPipelineKind pipeline = WanPipelineKind::Wan);
nlohmann::ordered_json wan_transformer_config_json(const WanModelPreset& preset);
// `vocab_size`: the embedding rows (the preset's, or the tokenizer's for the tiny model);
// `stored`: the dtype the weights are written in (its torch_dtype).
nlohmann::ordered_json umt5_config_json(const WanModelPreset& preset, int vocab_size, DType stored);
nlohmann::ordered_json wan_vae_config_json(const WanModelPreset& preset);
// wan21.md §4.2: the scheduler config shipped with Wan2.1-T2V-1.3B-Diffusers. FastWan2.1's
// checkpoint ships the same file (its DMD stage does not read it).
nlohmann::ordered_json wan_scheduler_config_json();

// The VSA gate of every block of a FastWan (VSA-distilled) transformer, as its diffusers
// checkpoint stores it: blocks.N.to_gate_compress.{weight [D, D], bias [D]}, D = the inner dim.
// FastVideo's WanTransformerBlock_VSA holds to_gate_compress on the block itself, and its
// param_names_mapping has no rule for it, so the checkpoint name is the module's name.
std::vector<TensorSpec> fastwan_gate_specs(const WanTransformerConfig& config);

}  // namespace fastvideo
