// Compile mode for the UMT5 text encoder (FastVideo's compile.text_encoder_enabled; CUDA graphs,
// issue 11): the layers after the embedding lookup are captured into a CUDA graph per token count,
// right after the first eager encode of that count (which builds every cuBLASLt and cuDNN plan the
// capture needs), and replayed from then on. Prompts vary in length, so only the most recently
// used few counts keep their graphs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "core/compile_stats.h"
#include "core/cuda/captured_function.h"
#include "core/tensor.h"

namespace fastvideo {

class Umt5Graphs {
 public:
  // The eager layers: embedded tokens [1, n, d_model] and their offset buckets on the device ->
  // the encoder's output.
  using Eager = std::function<Tensor(const Tensor& x, const Tensor& offset_buckets)>;

  // Graphs kept at once (each holds its activations, tens of MiB at 512 tokens for UMT5-XXL).
  static constexpr size_t kMaxGraphs = 4;

  // offset_buckets() is called only for a token count without a graph.
  Tensor run(const Tensor& x, const std::function<Tensor()>& offset_buckets, const Eager& eager);

  // graph_memory_bytes: of the graphs kept now.
  CompileStats stats() const;

 private:
  struct Entry {
    Tensor offset_buckets;  // read by the graph where the capture found them
    std::unique_ptr<CapturedFunction> graph;
    uint64_t last_use = 0;
  };

  mutable std::mutex mu_;
  std::map<int64_t, Entry> entries_;  // by token count
  uint64_t uses_ = 0;
  CompileStats stats_;
};

}  // namespace fastvideo
