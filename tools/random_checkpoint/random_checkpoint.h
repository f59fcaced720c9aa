// Writes Wan2.1 T2V checkpoints with random weights in the exact diffusers layout (wan21.md §5):
// the tiny test model (docs/tiny-model.md), on which every code path of the real model runs in
// seconds, and the two real sizes (1.3B, 14B) for load, memory and speed measurements. Same
// seed, same bytes. A tool beside the engine, not part of it: the CLI's make-tiny-model and its
// default model, the tests and the benchmarks use it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace fastvideo {

struct RandomCheckpointOptions {
  // tiny (docs/tiny-model.md), 1.3b or 14b (the real configs); fastwan (tiny) or fastwan-1.3b:
  // the same sizes in FastWan's layout (WanDMDPipeline, VSA gates in every block).
  std::string size = "tiny";
  uint64_t seed = 0;
  // Stored dtype of the UMT5 weights, "f32" or "bf16". Empty: bf16 for tiny (as it always was),
  // f32 for the real sizes (as the real repos store them; bf16 halves the 22.7 GB).
  std::string text_encoder_dtype;
  // Stored dtype of the transformer, "f32" (empty: as the real repos) or "bf16"; real sizes only.
  std::string transformer_dtype;
  bool overwrite = false;
  // Polled between files and every chunk of the real sizes' weights: a stop throws Cancelled,
  // and nothing of the folder is left (a real size takes minutes and tens of GB).
  std::function<bool()> stop_requested;
};

// Writes into a temporary folder next to `dir` and renames it when complete. `dir` names the
// folder itself ("m/" and "a/../m" are m). An existing `dir` is an error unless
// `options.overwrite`, and even then unless it is empty or a checkpoint (has model_index.json);
// the old checkpoint goes only once the new one is in place. tiny: weights derived from torch_randn (seeded per
// tensor), byte-identical across versions. Real sizes: a fast counter-based generator
// (random_weights.h), written shard by shard in bounded chunks so memory stays small whatever the
// model size; no torch-compatible stream is promised.
void write_random_checkpoint(const std::filesystem::path& dir,
                             const RandomCheckpointOptions& options);

// write_random_checkpoint for the tiny model.
void write_tiny_model(const std::filesystem::path& dir, uint64_t seed, bool overwrite = false);

// The folder `generate` uses when no model is given: $FASTVIDEO_TINY_MODEL, else
// $XDG_CACHE_HOME/fastvideo/tiny-model-seed0 (~/.cache/...). Created on first use.
std::filesystem::path ensure_default_tiny_model();

}  // namespace fastvideo
