// Diffusers checkpoint folders (wan21.md §5): model_index.json naming the component folders,
// and per component a config plus weights in one safetensors file or shards with an index json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/json_file.h"
#include "io/weights.h"

namespace fastvideo {

class CheckpointFolder {
 public:
  // Reads model_index.json and checks that every component folder it lists exists.
  static CheckpointFolder open(const std::filesystem::path& dir);

  const std::filesystem::path& root() const { return root_; }
  const std::string& class_name() const { return class_name_; }  // "WanPipeline"
  std::vector<std::string> components() const;
  bool has(const std::string& component) const { return components_.count(component) != 0; }
  // Throws naming model_index.json and the component when it is not listed.
  std::filesystem::path path(const std::string& component) const;
  // The class model_index.json gives the component, e.g. "WanTransformer3DModel".
  const std::string& component_class(const std::string& component) const;
  // <component>/config.json; scheduler_config.json for schedulers, tokenizer_config.json for
  // tokenizers.
  JsonFile config(const std::string& component) const;

 private:
  struct Component {
    std::string library;  // "diffusers" or "transformers"
    std::string class_name;
  };

  std::filesystem::path root_;
  std::string class_name_;
  std::map<std::string, Component> components_;
};

// Validates the component's safetensors (single file or sharded through
// *.safetensors.index.json) against `specs` and loads every used tensor, converted to
// `compute_dtype` (F32 for the names in `keep_f32`, e.g. wan_transformer_fp32_names) straight from
// the mapping onto `device`. For a GPU the conversion runs in bounded chunks through pinned
// staging buffers (io/cuda/device_weight_upload.h): host memory never holds a converted copy of
// the component. Tensors the specs do not name are reported in one warning and never loaded.
Weights load_component(const std::filesystem::path& component_dir,
                       const std::vector<TensorSpec>& specs, DType compute_dtype = DType::F32,
                       Device device = Device::cpu(),
                       const std::set<std::string>* keep_f32 = nullptr);

// Writes `<basename>.safetensors` (num_shards == 1) or the diffusers sharded layout
// `<basename>-0000i-of-0000N.safetensors` plus `<basename>.safetensors.index.json`, with every
// tensor converted to `stored_dtype`.
void write_component(const std::filesystem::path& component_dir,
                     const std::string& weights_basename,
                     const std::vector<std::pair<std::string, Tensor>>& tensors, int num_shards,
                     DType stored_dtype);

// What `fastvideo inspect` prints per component; reads headers only.
struct ComponentSummary {
  std::string name;        // folder name
  std::string class_name;  // _class_name of its config, empty when it has none
  int64_t parameters = 0;
  std::map<std::string, int64_t> parameters_by_dtype;  // "F32" -> count
  std::vector<std::string> files;                      // weight files, relative to the folder
};

ComponentSummary summarize_component(const std::filesystem::path& component_dir);

}  // namespace fastvideo
