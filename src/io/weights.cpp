#include "io/weights.h"

namespace fastvideo {

const Tensor& Weights::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(component_, ": tensor '", name, "' was not loaded");
  return it->second;
}

Tensor Weights::take(const std::string& name) {
  Tensor t = get(name);
  tensors_.erase(name);
  return t;
}

}  // namespace fastvideo
