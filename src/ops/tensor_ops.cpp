// Device dispatch for src/ops/tensor_ops.h: CPU twin or CUDA kernel by the input's device.
#include "ops/tensor_ops.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Shape concat_shape(std::span<const Tensor> tensors, int dim) {
  FV_CHECK(!tensors.empty(), "concat: no tensors");
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
    shape[size_t(dim)] += t.size(dim);
  }
  return shape;
}

Tensor concat(std::span<const Tensor> tensors, int dim) {
  FV_CHECK(!tensors.empty(), "concat: no inputs");
  return FV_DISPATCH(tensors[0].device(), concat(tensors, dim));
}

}  // namespace fastvideo::ops
