// The JSON files of a Wan2.1 T2V diffusers checkpoint (wan21.md §5) for a preset's sizes
// (models/wan/wan_presets.h), with every key the real repos' files carry.
#pragma once

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "models/wan/wan_presets.h"

namespace fastvideo {

nlohmann::ordered_json wan_model_index_json();
nlohmann::ordered_json wan_transformer_config_json(const WanModelPreset& preset);
// `vocab_size`: the embedding rows (the preset's, or the tokenizer's for the tiny model);
// `stored`: the dtype the weights are written in (its torch_dtype).
nlohmann::ordered_json umt5_config_json(const WanModelPreset& preset, int vocab_size, DType stored);
nlohmann::ordered_json wan_vae_config_json(const WanModelPreset& preset);
// wan21.md §4.2: the scheduler config shipped with Wan2.1-T2V-1.3B-Diffusers.
nlohmann::ordered_json wan_scheduler_config_json();

}  // namespace fastvideo
