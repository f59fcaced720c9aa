// Device dispatch for src/ops/elementwise.h: CPU twin or CUDA kernel by the input's device.
#include "ops/elementwise.h"

#include <vector>

#include "ops/dispatch.h"
#include "ops/linear_chain.h"

namespace fastvideo::ops {

Tensor add(const Tensor& a, const Tensor& b) { return FV_DISPATCH(a.device(), add(a, b)); }

Tensor mul(const Tensor& a, const Tensor& b) { return FV_DISPATCH(a.device(), mul(a, b)); }

Tensor scale(const Tensor& a, float s) { return FV_DISPATCH(a.device(), scale(a, s)); }

Tensor silu(const Tensor& x) { return FV_DISPATCH(x.device(), silu(x)); }

Tensor gelu_tanh(const Tensor& x) { return FV_DISPATCH(x.device(), gelu_tanh(x)); }

Tensor clamp(const Tensor& x, float lo, float hi) {
  return FV_DISPATCH(x.device(), clamp(x, lo, hi));
}

Tensor gelu_tanh_gate(const Tensor& x) {
  FV_CHECK(x.ndim() >= 1 && x.size(-1) % 2 == 0,
           "gelu_tanh_gate: expected x [..., 2F] (an even "
           "last dim: the gate half, then the linear half), got ",
           x.describe());
  return FV_DISPATCH(x.device(), gelu_tanh_gate(x));
}

Tensor modulate(const Tensor& x, const Tensor& shift, const Tensor& scale) {
  return FV_DISPATCH(x.device(), modulate(x, shift, scale));
}

Tensor gated_residual(const Tensor& x, const Tensor& y, const Tensor& gate) {
  return FV_DISPATCH(x.device(), gated_residual(x, y, gate));
}

// A chain of one value (ops/linear_chain.h); past LinearChainProgram::kMaxTerms terms, one chain
// per kMaxTerms, each taking the partial sum so far, rounded to the result's dtype, as its first.
Tensor linear_combination(std::span<const std::pair<Tensor, double>> terms) {
  FV_CHECK(!terms.empty(), "linear_combination: no inputs");
  const Tensor& first = terms[0].first;
  for (const auto& [t, c] : terms) {
    FV_CHECK(t.shape() == first.shape(), "linear_combination: ", t.describe(), " vs ",
             shape_str(first.shape()));
    FV_CHECK(t.device() == first.device(), "linear_combination: term ", t.describe(), " is not on ",
             first.device().name(), " with ", first.describe());
    FV_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16, "linear_combination: term ",
             t.describe(), " is not F32 or BF16");
  }
  // The first term's dtype on a GPU; the CPU computes and stores f32 (DESIGN §3).
  const DType dtype = first.device().is_cpu() ? DType::F32 : first.dtype();
  Tensor sum;
  size_t next = 0;
  while (next < terms.size()) {
    LinearChain chain;
    std::vector<std::pair<LinearChain::Ref, double>> parts;
    if (sum.defined()) parts.emplace_back(chain.input(sum), 1.0);
    for (; next < terms.size() && int(parts.size()) < LinearChainProgram::kMaxTerms; ++next) {
      parts.emplace_back(chain.input(terms[next].first), terms[next].second);
    }
    const LinearChain::Ref value = chain.combine(parts, dtype);
    chain.keep(value);
    chain.run();
    sum = chain.result(value);
  }
  return sum;
}

bool all_finite(const Tensor& t) { return FV_DISPATCH(t.device(), all_finite(t)); }

}  // namespace fastvideo::ops
