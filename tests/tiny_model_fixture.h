// The tiny models (docs/tiny-model.md), each written once per test binary into a temp folder with
// seed 0 — the same bytes tools/make_goldens.sh feeds the independent reference.
#pragma once

#include <filesystem>
#include <string>

namespace fastvideo::testing {

const std::filesystem::path& tiny_model_dir();
// The tiny model in FastWan's layout (make-tiny-model --config fastwan --seed 0): a VSA gate per
// block, WanDMDPipeline.
const std::filesystem::path& tiny_fastwan_dir();

// A fresh, empty temporary folder, removed at process exit.
std::filesystem::path temp_dir(const std::string& name);

}  // namespace fastvideo::testing
