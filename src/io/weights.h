// The tensors of one model component, by checkpoint name, plus the table a model declares of
// what it expects. Loading (io/checkpoint.h) validates the files against that table.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastvideo {

struct TensorSpec {
  std::string name;  // checkpoint key, e.g. "blocks.0.attn1.to_q.weight"
  Shape shape;
  bool used = true;  // false: a known tensor this engine does not need (e.g. the VAE encoder)
};

class Weights {
 public:
  explicit Weights(std::string component = {}) : component_(std::move(component)) {}

  // Throws naming the component and the key when absent.
  const Tensor& get(const std::string& name) const;
  // get() that also drops the tensor from here, so its memory goes once the caller is done.
  Tensor take(const std::string& name);
  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  void insert(const std::string& name, Tensor t) { tensors_[name] = std::move(t); }
  const std::map<std::string, Tensor>& all() const { return tensors_; }
  const std::string& component() const { return component_; }

 private:
  std::string component_;
  std::map<std::string, Tensor> tensors_;
};

}  // namespace fastvideo
