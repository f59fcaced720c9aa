#include "models/wan/vae/cuda/vae_chunk_graph.h"

namespace fastvideo {

VaeChunkGraph::VaeChunkGraph(const Tensor& z, const std::string& what,
                             const std::function<Tensor(const Tensor&)>& chunk)
    : input_(z.clone()) {
  graph_ = std::make_unique<CudaGraph>(z.device().index, what, [&] { output_ = chunk(input_); });
}

const Tensor& VaeChunkGraph::replay(const Tensor& z) {
  input_.copy_from(z);
  graph_->replay();
  return output_;
}

}  // namespace fastvideo
