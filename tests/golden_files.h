// The goldens of tools/make_goldens.sh (tests/goldens/*.safetensors), shared by the CPU and CUDA
// golden tests.
#pragma once

#include <string>
#include <vector>

#include "io/safetensors.h"

namespace fastvideo::testing {

// Opens tests/goldens/NAME; a missing file is an error that says how to regenerate it.
SafetensorsFile golden(const std::string& name);
// A golden tensor as contiguous f32.
Tensor golden_f32(const SafetensorsFile& file, const std::string& name);
// Token ids stored as I64.
std::vector<int32_t> golden_ids(const Tensor& ids);

}  // namespace fastvideo::testing
