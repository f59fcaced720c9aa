// What `fastvideo inspect` shows of a diffusers checkpoint folder: its components, their configs,
// parameter counts and dtypes. Reads configs and safetensors headers only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fastvideo {

struct ComponentSummary {
  std::string name;        // folder name
  std::string class_name;  // _class_name of its config, empty when it has none
  std::string config;      // its config file as compact JSON, empty when it has none
  int64_t parameters = 0;
  std::map<std::string, int64_t> parameters_by_dtype;  // "F32" -> count
  std::vector<std::string> files;                      // weight files, relative to the folder
};

struct CheckpointSummary {
  std::string class_name;                    // model_index.json's _class_name ("WanPipeline")
  std::vector<ComponentSummary> components;  // transformer, text_encoder, vae
  int tokenizer_vocab_size = 0;
  std::string scheduler_config;  // compact JSON
  // Why this engine would refuse to load it, from its configs and headers (an image branch, a
  // layout it does not run); empty when they pass. The weights' values are for check_checkpoint.
  std::string refused;
};

// Errors name the folder or file and what is wrong with it.
CheckpointSummary inspect_checkpoint(const std::filesystem::path& dir);

// What `fastvideo inspect --check` does, and everything loading would find, without loading: each
// component against the model its config describes (every tensor's name, shape and dtype, the
// tokenizer against the text encoder's vocabulary), then every weight read once and found finite.
// Reads the whole checkpoint (minutes for 14B from disk); `checked` (may be empty) hears of each
// component as it passes, with its value count. The first problem is an Error naming the file and tensor.
void check_checkpoint(
    const std::filesystem::path& dir,
    const std::function<void(const std::string& component, int64_t values)>& checked);

}  // namespace fastvideo
