// Writes Wan2.1 T2V checkpoints with random weights in the exact diffusers layout (wan21.md §5):
// the tiny test model (docs/tiny-model.md), on which every code path of the real model runs in
// seconds, and the two real sizes (1.3B, 14B) for load, memory and speed measurements. Same
// seed, same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/checkpoint.h"

namespace fastvideo {

// tiny: docs/tiny-model.md. wan_1_3b / wan_14b: the real configs (wan21.md §0, §2.1, §3.1),
// sharded as the real repos are.
enum class ModelSize { tiny, wan_1_3b, wan_14b };

// "tiny", "1.3b" or "14b"; anything else throws naming the value and the choices.
ModelSize parse_model_size(const std::string& name);

struct ModelWriteOptions {
  ModelSize size = ModelSize::tiny;
  uint64_t seed = 0;
  // Stored dtype of the UMT5 weights. Default: BF16 for tiny (as it always was), F32 for the real
  // sizes (as the real repos store them; BF16 halves the 22.7 GB).
  std::optional<DType> text_encoder_dtype;
  bool overwrite = false;
};

// One weight-carrying component of a real-size checkpoint as it will be written.
struct ComponentPlan {
  std::string folder;             // "transformer", "text_encoder", "vae"
  nlohmann::ordered_json config;  // its config.json
  ShardPlan weights;
};

// The transformer, text encoder and VAE of a real-size checkpoint (not tiny: its layout is fixed
// by docs/tiny-model.md) without writing or generating anything: configs, tensor names and
// shapes, shard files and index weight_map. Shards are split as huggingface_hub splits at 5 GB of
// F32 (1.3B transformer: 2 files; UMT5-XXL: 5 files; VAE: 1 file); a BF16 text encoder keeps the
// same files and tensors per file, at half the bytes.
std::vector<ComponentPlan> plan_checkpoint(ModelSize size, DType text_encoder_dtype);

// Writes into a temporary folder next to `dir` and renames it when complete. An existing `dir`
// is an error unless `options.overwrite`. tiny: weights derived from torch_randn (seeded per
// tensor), byte-identical across versions. Real sizes: values from fill_random_weight
// (models/random_weights.h), a fast counter-based generator, written shard by shard in bounded
// chunks so memory stays small whatever the model size; no torch-compatible stream is promised.
void write_model(const std::filesystem::path& dir, const ModelWriteOptions& options);

// write_model for the tiny model.
void write_tiny_model(const std::filesystem::path& dir, uint64_t seed, bool overwrite = false);

// The folder `generate` uses when no --model is given: $FASTVIDEO_TINY_MODEL, else
// $XDG_CACHE_HOME/fastvideo/tiny-model-seed0 (~/.cache/...). Created on first use.
std::filesystem::path default_tiny_model_dir();
std::filesystem::path ensure_default_tiny_model();

}  // namespace fastvideo
