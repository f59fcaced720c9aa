// A function of one tensor captured once into a CUDA graph (cuda_graph.h) and replayed on new
// values of the same shape: the input is copied into the graph's own tensor, the output stays in
// the graph's memory. Compile mode's text encoder (one per prompt length) and VAE decoder (one
// chunk) are this shape of graph.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/cuda/cuda_graph.h"
#include "core/tensor.h"

namespace fastvideo {

class CapturedFunction {
 public:
  // Captures fn(x) for inputs shaped like x (recorded, not run), under CudaGraph's rules.
  CapturedFunction(const Tensor& x, const std::string& what,
                   const std::function<Tensor(const Tensor&)>& fn);

  // fn(x) by replay. The result is the graph's memory, which the next replay overwrites: use it
  // (queue the work reading it, or clone it) before then.
  const Tensor& replay(const Tensor& x);

  double capture_seconds() const { return graph_->capture_seconds(); }
  int64_t pool_bytes() const { return graph_->pool_bytes(); }

 private:
  Tensor input_, output_;
  std::unique_ptr<CudaGraph> graph_;
};

}  // namespace fastvideo
