#include "core/cuda/captured_function.h"

namespace fastvideo {

CapturedFunction::CapturedFunction(const Tensor& x, const std::string& what,
                                   const std::function<Tensor(const Tensor&)>& fn)
    : input_(x.clone()) {
  graph_ = std::make_unique<CudaGraph>(x.device().index, what, [&] { output_ = fn(input_); });
}

const Tensor& CapturedFunction::replay(const Tensor& x) {
  input_.copy_from(x);
  graph_->replay();
  return output_;
}

}  // namespace fastvideo
