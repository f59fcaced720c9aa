// Diffusers checkpoint folders (wan21.md §5): model_index.json naming the component folders,
// and per component a config plus weights in one safetensors file or shards with an index json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "fastvideo/checkpoint_info.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/weights.h"

namespace fastvideo {

class CheckpointFolder {
 public:
  // Reads model_index.json and checks that every component folder it lists exists (which
  // pipeline and classes these are is pipeline/wan_checkpoint.h's to check).
  static CheckpointFolder open(const std::filesystem::path& dir);

  const std::string& class_name() const { return class_name_; }  // "WanPipeline"
  // A model_index.json key that is neither a component nor "_"-prefixed: a pipeline setting such
  // as Wan2.2's boundary_ratio (or a component written as no [library, class] pair). Null when
  // absent.
  nlohmann::json setting(const std::string& key) const;
  std::vector<std::string> components() const;
  bool has(const std::string& component) const { return components_.count(component) != 0; }
  // Throws naming model_index.json and the component when it is not listed.
  std::filesystem::path path(const std::string& component) const;
  // The class model_index.json gives the component, e.g. "WanTransformer3DModel".
  const std::string& component_class(const std::string& component) const;
  // <component>/config.json; scheduler_config.json for schedulers, tokenizer_config.json for
  // tokenizers.
  JsonFile config(const std::string& component) const;
  // Fails unless the component's weights hold exactly `expected` blocks `<prefix>N.` (distinct
  // N), naming its config, the config's `key` that sets the count, and both counts. Reads the
  // safetensors headers alone (cheap even for the 14B shards), so a config is checked against its
  // weights before anything is allocated.
  void require_block_count(const std::string& component, const std::string& key, int64_t expected,
                           const std::string& prefix) const;

 private:
  struct Component {
    std::string library;  // "diffusers" or "transformers"
    std::string class_name;
  };

  std::filesystem::path root_;
  std::string class_name_;
  std::map<std::string, Component> components_;
  nlohmann::json settings_ = nlohmann::json::object();
};

// The names of every tensor in the component's safetensors (single file or sharded), from the
// headers alone.
std::set<std::string> component_tensor_names(const std::filesystem::path& component_dir);

// Validates the component's safetensors (single file or sharded through
// *.safetensors.index.json) against `specs` and loads every used tensor, converted to
// `compute_dtype` (F32 for the names in `keep_f32`, e.g. wan_transformer_fp32_names) straight from
// the mapping onto `device`. For a GPU the conversion runs in bounded chunks through pinned
// staging buffers (io/cuda/device_weight_upload.h): host memory never holds a converted copy of
// the component. Tensors the specs do not name are reported in one warning and never loaded.
// Tensors whose names start with a non-empty `mapped_prefix` are not loaded: they come back as
// views into the mapping in their stored dtype (validated all the same), for layerwise offload
// to copy or stream from.
Weights load_component(const std::filesystem::path& component_dir,
                       const std::vector<TensorSpec>& specs, DType compute_dtype = DType::F32,
                       Device device = Device::cpu(),
                       const std::set<std::string>* keep_f32 = nullptr,
                       std::string_view mapped_prefix = {});

// Checks the component as load_component would load it, without keeping anything: validated
// against `specs`, then every value of every tensor the specs name read once from the mapping
// (each tensor's pages dropped after) and found finite (an error names the file, tensor and
// element otherwise). Returns the values checked. For `fastvideo inspect --check`.
int64_t check_component_values(const std::filesystem::path& component_dir,
                               const std::vector<TensorSpec>& specs);

// A component read a tensor at a time, for weights that are used once per run and need not stay
// anywhere (text_encoder_cpu_offload streams UMT5's layers so): validated as load_component
// validates, then each load() converts one tensor from the mapping onto a device (through pinned
// staging buffers on a GPU) and drops its pages from resident memory, so neither host nor device
// ever holds the component.
class MappedComponent {
 public:
  MappedComponent(const std::filesystem::path& component_dir, const std::vector<TensorSpec>& specs);
  ~MappedComponent();
  MappedComponent(const MappedComponent&) = delete;
  MappedComponent& operator=(const MappedComponent&) = delete;

  // The tensor `name` (one of the specs) in `dtype` on `device`. On a GPU the copy is queued on
  // the compute stream, so work queued after it reads it loaded.
  Tensor load(const std::string& name, DType dtype, Device device) const;
  // Rows `rows` of the matrix `name` as a [rows.size(), columns] tensor (an embedding lookup
  // that reads only those rows).
  Tensor load_rows(const std::string& name, std::span<const int32_t> rows, DType dtype,
                   Device device) const;

 private:
  struct Files;
  // `what` names the tensor in an error (a value that is NaN or Inf).
  Tensor to_device(const Tensor& host, DType dtype, Device device, const std::string& what) const;
  std::string name_;
  std::unique_ptr<Files> files_;
};

// Writes `<basename>.safetensors` (num_shards == 1) or the diffusers sharded layout
// `<basename>-0000i-of-0000N.safetensors` plus `<basename>.safetensors.index.json`, with every
// tensor converted to `stored_dtype`.
void write_component(const std::filesystem::path& component_dir,
                     const std::string& weights_basename,
                     const std::vector<std::pair<std::string, Tensor>>& tensors, int num_shards,
                     DType stored_dtype);

// How a component's tensors are split into safetensors files, decided before anything is written
// (so a checkpoint's layout can be checked without writing it).
struct ShardPlan {
  struct Shard {
    std::string file;                 // e.g. "model-00001-of-00005.safetensors"
    std::vector<TensorSpec> tensors;  // in file order
    uint64_t bytes = 0;               // tensor data, in the stored dtype
  };
  std::string basename;  // "diffusion_pytorch_model" or "model"
  DType stored_dtype = DType::F32;
  std::vector<Shard> shards;

  uint64_t total_bytes() const;
  size_t num_tensors() const;
  // "<basename>.safetensors.index.json" for several shards; empty for a single file.
  std::string index_file() const;
  // The index json's content: {"metadata": {"total_size"}, "weight_map": {tensor: file}}.
  nlohmann::json index() const;
};

// The split huggingface_hub makes with max_shard_size (what the real Wan2.1 repos were saved
// with): tensors in order, a new shard whenever the next tensor would take the current one past
// `max_shard_bytes` (a larger tensor gets a shard of its own). One shard is named
// `<basename>.safetensors`, several `<basename>-0000i-of-0000N.safetensors`.
ShardPlan plan_shards(const std::vector<TensorSpec>& specs, const std::string& basename,
                      DType stored_dtype, uint64_t max_shard_bytes);

// Writes the files of `plan` (and its index json when sharded) into `component_dir`, one shard
// at a time, with values streamed from `fill` in bounded chunks: memory stays at a few chunks
// whatever the component's size. Files of another layout under the same basename are removed.
void write_component_streamed(const std::filesystem::path& component_dir, const ShardPlan& plan,
                              const TensorFiller& fill);

// What `fastvideo inspect` prints per component (fastvideo/checkpoint_info.h); reads the config
// and the safetensors headers only.
ComponentSummary summarize_component(const std::filesystem::path& component_dir);

}  // namespace fastvideo
