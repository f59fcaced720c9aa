// LinearChain's bookkeeping and device dispatch (src/ops/linear_chain.h).
#include "ops/linear_chain.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

LinearChain::Ref LinearChain::input(const Tensor& t) {
  FV_CHECK(!ran_, "LinearChain: input added after run()");
  FV_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::BF16, "LinearChain: input ", t.describe(),
           " is not F32 or BF16");
  if (!nodes_.empty()) {
    const Tensor& first = nodes_.front().tensor;
    FV_CHECK(t.shape() == first.shape() && t.device() == first.device(), "LinearChain: input ",
             t.describe(), " does not match the first input, ", first.describe());
  }
  FV_CHECK(int(nodes_.size()) < LinearChainProgram::kMaxNodes, "LinearChain: more than ",
           LinearChainProgram::kMaxNodes, " inputs and values");
  nodes_.push_back(Node{t, t.dtype(), {}, false});
  return Ref{int(nodes_.size()) - 1};
}

LinearChain::Ref LinearChain::combine(std::span<const std::pair<Ref, double>> terms, DType dtype) {
  FV_CHECK(!ran_, "LinearChain: value added after run()");
  FV_CHECK(dtype == DType::F32 || dtype == DType::BF16, "LinearChain: a value of dtype ",
           dtype_name(dtype), " (F32 or BF16)");
  FV_CHECK(!terms.empty() && int(terms.size()) <= LinearChainProgram::kMaxTerms,
           "LinearChain: a value of ", terms.size(), " terms (1 to ", LinearChainProgram::kMaxTerms,
           ")");
  FV_CHECK(int(nodes_.size()) < LinearChainProgram::kMaxNodes, "LinearChain: more than ",
           LinearChainProgram::kMaxNodes, " inputs and values");
  Node value{Tensor(), dtype, {}, false};
  for (const auto& [ref, coefficient] : terms) {
    node(ref);  // checks the ref
    value.terms.emplace_back(ref.node, coefficient);
  }
  nodes_.push_back(std::move(value));
  return Ref{int(nodes_.size()) - 1};
}

LinearChain::Ref LinearChain::combine(std::initializer_list<std::pair<Ref, double>> terms,
                                      DType dtype) {
  return combine(std::span<const std::pair<Ref, double>>(terms.begin(), terms.size()), dtype);
}

const LinearChain::Node& LinearChain::node(Ref r) const {
  FV_CHECK(r.node >= 0 && r.node < int(nodes_.size()), "LinearChain: reference ", r.node,
           " is not a node of this chain (", nodes_.size(), " nodes)");
  return nodes_[size_t(r.node)];
}

DType LinearChain::dtype(Ref r) const { return node(r).dtype; }

void LinearChain::keep(Ref r) {
  FV_CHECK(!node(r).terms.empty(), "LinearChain: keep() of an input, which is kept already");
  nodes_[size_t(r.node)].keep = true;
}

void LinearChain::flag_non_finite(Ref r, const Tensor& flags, int64_t slot) {
  node(r);
  FV_CHECK(flagged_ < 0, "LinearChain: a second node flagged");
  FV_CHECK(flags.dtype() == DType::I32 && flags.ndim() == 1 && flags.is_contiguous() && slot >= 0 &&
               slot < flags.size(0),
           "LinearChain: flags must be contiguous I32 [n] with slot in 0..n-1, got ",
           flags.describe(), " and slot ", slot);
  flagged_ = r.node;
  flags_ = flags;
  flag_slot_ = slot;
}

void LinearChain::on_run(std::function<void(const LinearChain&)> fn) {
  on_run_.push_back(std::move(fn));
}

void LinearChain::run() {
  FV_CHECK(!ran_, "LinearChain: run() twice");
  FV_CHECK(!nodes_.empty(), "LinearChain: run() without inputs");
  const Tensor& first = nodes_.front().tensor;
  const Device device = first.device();
  FV_CHECK(!flags_.defined() || flags_.device() == device, "LinearChain: flags on ",
           flags_.device().name(), ", the chain on ", device.name());
  LinearChainProgram program;
  program.count = int(nodes_.size());
  program.numel = first.numel();
  program.device = device.is_cpu() ? 0 : device.index;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    LinearChainProgram::Node& p = program.nodes[i];
    if (n.terms.empty()) {
      // The CPU twin reads f32 (CPU tensors are f32, DESIGN §3); the GPU reads either storage.
      n.tensor = device.is_cpu() ? n.tensor.to(DType::F32).contiguous() : n.tensor.contiguous();
      p.input = n.tensor.raw_data();
      p.bf16 = n.tensor.dtype() == DType::BF16;
      continue;
    }
    p.bf16 = n.dtype == DType::BF16;
    p.terms = int(n.terms.size());
    for (int t = 0; t < p.terms; ++t) {
      p.source[t] = n.terms[size_t(t)].first;
      p.coefficient[t] = n.terms[size_t(t)].second;
    }
    if (n.keep) {
      n.tensor = Tensor::empty(first.shape(), device.is_cpu() ? DType::F32 : n.dtype, device);
      p.output = n.tensor.raw_data();
    }
  }
  if (flags_.defined()) {
    program.flagged = flagged_;
    program.flag = flags_.data<int32_t>() + flag_slot_;
  }
  if (program.numel > 0) FV_DISPATCH(device, run_linear_chain(program));
  ran_ = true;
  for (const auto& fn : on_run_) fn(*this);
}

const Tensor& LinearChain::result(Ref r) const {
  const Node& n = node(r);
  FV_CHECK(n.terms.empty() || (ran_ && n.keep), "LinearChain: result of node ", r.node,
           n.keep ? " before run()" : ", a value that was not kept");
  return n.tensor;
}

}  // namespace fastvideo::ops
