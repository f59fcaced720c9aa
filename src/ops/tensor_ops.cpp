#include "ops/tensor_ops.h"

#include "fastvideo/error.h"

namespace fastvideo::ops {

Tensor concat(std::span<const Tensor> tensors, int dim) {
  FV_CHECK(!tensors.empty(), "concat: no inputs");
  const Tensor& first = tensors.front();
  const int nd = first.ndim();
  if (dim < 0) dim += nd;
  FV_CHECK(dim >= 0 && dim < nd, "concat: dim out of range for ", first.describe());
  Shape shape = first.shape();
  shape[size_t(dim)] = 0;
  for (const Tensor& t : tensors) {
    bool same = t.ndim() == nd;
    for (int d = 0; same && d < nd; ++d) same = d == dim || t.size(d) == first.size(d);
    FV_CHECK(same, "concat along dim ", dim, ": ", t.describe(), " does not match ",
             first.describe());
    FV_CHECK(first.device().is_cpu() || t.device() == first.device(), "concat: input ",
             t.describe(), " is not on ", first.device().name(), " with ", first.describe());
    shape[size_t(dim)] += t.size(dim);
  }
  Tensor out =
      Tensor::empty(shape, first.device().is_cpu() ? DType::F32 : first.dtype(), first.device());
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    const int64_t n = t.size(dim);
    if (n > 0 && out.numel() > 0) out.slice(dim, offset, offset + n).copy_from(t);
    offset += n;
  }
  return out;
}

}  // namespace fastvideo::ops
