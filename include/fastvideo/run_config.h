// `fastvideo generate --config run.yaml` in FastVideo's generator/request schema (fastvideo.md
// §1.5), plus dotted overrides (--request.sampling.seed 42). Unknown keys are rejected by name.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fastvideo/video_generator.h"

namespace fastvideo {

struct RunConfig {
  std::optional<std::filesystem::path> model_path;
  GeneratorOptions options;
  GenerationRequest request;
  std::optional<std::filesystem::path> output;  // request.output.output_path (+ output_video_name)
};

// Reads a YAML (or JSON) file into `config`. Errors name the file, the dotted key and the value.
void apply_config_file(const std::filesystem::path& path, RunConfig& config);

// Applies one dotted override, e.g. ("request.sampling.seed", "42"). The value is parsed as YAML.
void apply_override(const std::string& dotted_key, const std::string& value, RunConfig& config);

}  // namespace fastvideo
