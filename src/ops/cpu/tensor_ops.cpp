#include "ops/tensor_ops.h"

namespace fastvideo::ops::cpu {

Tensor concat(std::span<const Tensor> tensors, int dim) {
  const Shape shape = concat_shape(tensors, dim);
  if (dim < 0) dim += tensors.front().ndim();
  Tensor out = Tensor::empty(shape, DType::F32);
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    const int64_t n = t.size(dim);
    if (n > 0) out.slice(dim, offset, offset + n).copy_from(t);
    offset += n;
  }
  return out;
}

}  // namespace fastvideo::ops::cpu
