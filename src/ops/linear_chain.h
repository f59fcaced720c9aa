// A chain of linear combinations evaluated in one pass over the elements: one kernel on a GPU,
// where the same updates as separate linear_combination calls (each a chain of one value) take one
// launch and one round trip through memory each (issue 11: CFG's combine and the scheduler's step
// fused). Each value is Σ coefficient·term over same-shaped tensors, accumulated in double per
// element in the order given and rounded to f32, then to the value's dtype; a term is an input
// tensor or an earlier value. Only the values kept are written to memory.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace fastvideo::ops {

// What the backends evaluate, element by element, nodes in order: an input node reads its tensor,
// a value node sums its terms (earlier nodes) in double and rounds to f32, then to bf16 when
// `bf16` is set; a value with an output writes it there (in its dtype on the GPU, as f32 on the
// CPU). When `flag` is set, an element of node `flagged` that is NaN or Inf stores 1 in *flag.
struct LinearChainProgram {
  static constexpr int kMaxNodes = 16;
  static constexpr int kMaxTerms = 8;
  struct Node {
    const void* input = nullptr;  // an input's contiguous data; null for a value
    bool bf16 = false;            // an input's storage, or a value's rounding
    int terms = 0;
    int source[kMaxTerms] = {};
    double coefficient[kMaxTerms] = {};
    void* output = nullptr;  // a kept value's memory; null otherwise
  };
  Node nodes[kMaxNodes];
  int count = 0;
  int flagged = -1;
  int32_t* flag = nullptr;
  int64_t numel = 0;
  int device = 0;  // the GPU, for the CUDA twin
};

class LinearChain {
 public:
  struct Ref {
    int node = -1;
    bool defined() const { return node >= 0; }
  };

  // The first input fixes the chain's shape and device; the others must match them. F32 or BF16.
  Ref input(const Tensor& t);
  // A value Σ coefficient·term, rounded to `dtype` (F32 or BF16).
  Ref combine(std::span<const std::pair<Ref, double>> terms, DType dtype);
  Ref combine(std::initializer_list<std::pair<Ref, double>> terms, DType dtype);
  DType dtype(Ref r) const;
  // Writes value `r` to memory of its own; result(r) returns it after run().
  void keep(Ref r);
  // run() stores 1 in flags[slot] (I32 on the chain's device) when any element of `r` is NaN or
  // Inf, and leaves it alone otherwise. One node per chain.
  void flag_non_finite(Ref r, const Tensor& flags, int64_t slot);
  // Called at the end of run(), in the order given: how a part of the chain picks up the results
  // it keeps (a scheduler its history).
  void on_run(std::function<void(const LinearChain&)> fn);
  // Evaluates the chain (queued on the device, as every op is), then the on_run callbacks.
  void run();
  // An input, or a kept value once run() has returned.
  const Tensor& result(Ref r) const;

 private:
  struct Node {
    Tensor tensor;  // an input, or a kept value's result
    DType dtype = DType::F32;
    std::vector<std::pair<int, double>> terms;  // a value's; empty for an input
    bool keep = false;
  };
  const Node& node(Ref r) const;

  std::vector<Node> nodes_;
  Tensor flags_;
  int flagged_ = -1;
  int64_t flag_slot_ = 0;
  std::vector<std::function<void(const LinearChain&)>> on_run_;
  bool ran_ = false;
};

// Backend implementations of the evaluation; LinearChain::run dispatches on the device.
namespace cpu {
void run_linear_chain(const LinearChainProgram& program);
}  // namespace cpu
namespace cuda {
void run_linear_chain(const LinearChainProgram& program);
}  // namespace cuda

}  // namespace fastvideo::ops
