// Writes the tiny Wan2.1 T2V checkpoint (docs/tiny-model.md) in the exact diffusers layout, so
// every code path of the real model runs in seconds. Same seed, same bytes.
#pragma once

#include <cstdint>
#include <filesystem>

namespace fastvideo {

// Writes into a temporary folder next to `dir` and renames it when complete. An existing `dir`
// is an error unless `overwrite`.
void write_tiny_model(const std::filesystem::path& dir, uint64_t seed, bool overwrite = false);

// The folder `generate` uses when no --model is given: $FASTVIDEO_TINY_MODEL, else
// $XDG_CACHE_HOME/fastvideo/tiny-model-seed0 (~/.cache/...). Created on first use.
std::filesystem::path default_tiny_model_dir();
std::filesystem::path ensure_default_tiny_model();

}  // namespace fastvideo
