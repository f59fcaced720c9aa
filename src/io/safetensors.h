// One safetensors file, memory-mapped read-only, and the writer for the same format
// (wan21.md §5: 8-byte little-endian header length, JSON header with dtype / shape / data_offsets
// relative to the end of the header, then raw little-endian data).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/weights.h"

namespace fastvideo {

struct TensorInfo {
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0;  // byte offsets within the data section
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  // Maps the file and validates the whole header, including the format's rules that JSON parsers
  // let pass (no duplicate keys; tensors covering the data section exactly, without overlap or
  // hole); every error names the file (and the tensor).
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  std::vector<std::string> names() const;  // in data-offset order
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  // Throws naming the file and the tensor when absent.
  const TensorInfo& info(const std::string& name) const;
  // Zero-copy, read-only view into the mapping; the view keeps the mapping alive.
  Tensor tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  struct Mapping;  // the mmap every view keeps alive

 private:
  SafetensorsFile() = default;

  std::filesystem::path path_;
  std::shared_ptr<Mapping> mapping_;
  const char* data_ = nullptr;  // start of the data section inside the mapping
  std::map<std::string, TensorInfo> entries_;
  std::map<std::string, std::string> metadata_;
};

// Takes the pages under `view` out of this process's resident memory when `view` borrows from a
// SafetensorsFile's mapping (they stay in the page cache, and a later read maps them again); any
// other tensor is left alone. Loaders call it once a tensor is converted or uploaded, so that
// loading never holds a checkpoint in its mapping and in its copy at once.
void release_mapped_pages(const Tensor& view);

// Writes tensors in the given order (header padded with spaces to a multiple of 8) to
// `path.tmp`, then renames it to `path`; on any error no file is left behind.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Values of one tensor produced on demand: elements [first, first + out.size()) of `spec` in
// row-major order, as f32.
using TensorFiller =
    std::function<void(const TensorSpec& spec, int64_t first, std::span<float> out)>;

// The same file format for tensors too large to hold at once (full-size random checkpoints):
// values come from `fill` in chunks of at most `chunk_elements`, are converted to `stored_dtype`
// and written, so memory stays at two chunks whatever the file size. Atomic like
// write_safetensors.
void write_safetensors_streamed(const std::filesystem::path& path,
                                std::span<const TensorSpec> tensors, DType stored_dtype,
                                const TensorFiller& fill,
                                const std::map<std::string, std::string>& metadata = {},
                                int64_t chunk_elements = int64_t(1) << 24);

}  // namespace fastvideo
