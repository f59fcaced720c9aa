// The goldens of tools/make_goldens.sh (tests/goldens/*.safetensors), shared by the CPU and CUDA
// golden tests.
#pragma once

#include <string>
#include <vector>

#include "fastvideo/video_generator.h"
#include "io/safetensors.h"

namespace fastvideo::testing {

// Opens tests/goldens/NAME; a missing file is an error that says how to regenerate it.
SafetensorsFile golden(const std::string& name);
// A golden tensor as contiguous f32.
Tensor golden_f32(const SafetensorsFile& file, const std::string& name);
// Token ids stored as I64.
std::vector<int32_t> golden_ids(const Tensor& ids);
// The request tools/reference ran for generation.safetensors (4 steps, CFG 3.0, 64x64x9), starting
// from its stored noise.
GenerationRequest golden_generation_request(const Tensor& noise);

}  // namespace fastvideo::testing
