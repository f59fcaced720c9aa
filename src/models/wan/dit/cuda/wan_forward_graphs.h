// Compile mode for the Wan transformer (FastVideo's enable_torch_compile, done our way, issue 11):
// the whole forward is captured into a CUDA graph once per input shape and attention metadata,
// right after the first eager forward of that shape (which builds every plan and table the capture
// needs), and replayed from then on. Inputs are copied into the graph's own tensors before each
// replay and the output copied out after it, so callers see the eager forward's contract.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/cuda/cuda_graph.h"
#include "models/wan/dit/wan_transformer.h"

namespace fastvideo {

class WanForwardGraphs {
 public:
  // The eager forward from patchify on: latents in the activation dtype, the timestep sinusoid on
  // the device.
  using Eager = std::function<Tensor(const Tensor& latents, const Tensor& sinusoid,
                                     const WanTransformer::TextContext& text)>;

  // Graphs kept at once: each holds one forward's activations (1.40 GiB at 480x832x81 for the
  // 1.3B model) and its copy of a prompt's cross-attention K/V. A generation uses one or two
  // (batch 2 for CFG's pair, batch 1 for a gated step); a server taking several sizes keeps the
  // most recently used.
  static constexpr size_t kMaxGraphs = 4;

  // `key` names what the shapes do not: the attention metadata's launches.
  Tensor forward(const Tensor& latents, const Tensor& sinusoid,
                 const WanTransformer::TextContext& text, const std::string& key,
                 const Eager& eager);
  WanTransformer::CompileStats stats() const;

 private:
  struct Entry {
    Tensor latents, sinusoid;          // the graph's inputs
    WanTransformer::TextContext text;  // the graph's copy of a prompt's context (its id: whose)
    Tensor output;                     // in the graph's pool: each replay overwrites it
    std::unique_ptr<CudaGraph> graph;
    uint64_t last_use = 0;
  };
  Entry capture(const Tensor& latents, const Tensor& sinusoid,
                const WanTransformer::TextContext& text, const std::string& what,
                const Eager& eager);

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  uint64_t uses_ = 0;
  WanTransformer::CompileStats stats_;  // graph_memory_bytes: of the graphs kept now
};

}  // namespace fastvideo
