// The tiny models (docs/tiny-model.md), each written once per test binary into a temp folder with
// seed 0 — the same bytes tools/make_goldens.sh feeds the independent reference.
#pragma once

#include <filesystem>
#include <string>

#include "fastvideo/video_generator.h"

namespace fastvideo::testing {

const std::filesystem::path& tiny_model_dir();
// The tiny model in FastWan's layout (make-tiny-model --config fastwan --seed 0): a VSA gate per
// block, WanDMDPipeline.
const std::filesystem::path& tiny_fastwan_dir();

// The request the generation tests share: the fox prompt, seed 7, the model's preset otherwise.
inline GenerationRequest fox_request() {
  GenerationRequest r;
  r.prompt = "A red fox runs through fresh snow at dawn.";
  r.seed = 7;
  return r;
}

// A fresh, empty temporary folder, removed at process exit.
std::filesystem::path temp_dir(const std::string& name);

}  // namespace fastvideo::testing
