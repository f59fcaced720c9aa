// Compile mode for the VAE decoder (compile.vae_enabled; CUDA graphs, issue 11): one chunk's
// decode (one latent frame through every layer, the causal convs' caches updated in place) captured
// once and replayed for the next chunks of the same shape whose caches are in the same state.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/cuda/cuda_graph.h"
#include "core/tensor.h"

namespace fastvideo {

class VaeChunkGraph {
 public:
  // Captures chunk(z) for inputs shaped like z (not run: the caches keep what the eager chunk
  // before left). The work must read and write the caches in place.
  VaeChunkGraph(const Tensor& z, const std::string& what,
                const std::function<Tensor(const Tensor&)>& chunk);

  // The chunk's frames for z: z copied in, the graph replayed. The result is the graph's memory,
  // which the next replay overwrites: use it (queue the work reading it) before then.
  const Tensor& replay(const Tensor& z);

  double capture_seconds() const { return graph_->capture_seconds(); }
  int64_t pool_bytes() const { return graph_->pool_bytes(); }

 private:
  Tensor input_, output_;
  std::unique_ptr<CudaGraph> graph_;
};

}  // namespace fastvideo
