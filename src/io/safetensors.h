// One safetensors file, memory-mapped read-only, and the writer for the same format
// (wan21.md §5: 8-byte little-endian header length, JSON header with dtype / shape / data_offsets
// relative to the end of the header, then raw little-endian data).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace fastvideo {

struct TensorInfo {
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0;  // byte offsets within the data section
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  // Maps the file and validates the whole header; every error names the file (and the tensor).
  static SafetensorsFile open(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  std::vector<std::string> names() const;  // in data-offset order
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  // Throws naming the file and the tensor when absent.
  const TensorInfo& info(const std::string& name) const;
  // Zero-copy, read-only view into the mapping; the view keeps the mapping alive.
  Tensor tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  struct Mapping;
  SafetensorsFile() = default;

  std::filesystem::path path_;
  std::shared_ptr<Mapping> mapping_;
  const char* data_ = nullptr;  // start of the data section inside the mapping
  std::map<std::string, TensorInfo> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors in the given order (header padded with spaces to a multiple of 8) to
// `path.tmp`, then renames it to `path`; on any error no file is left behind.
void write_safetensors(const std::filesystem::path& path,
                       const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace fastvideo
