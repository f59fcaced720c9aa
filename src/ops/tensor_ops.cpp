// Device dispatch for src/ops/tensor_ops.h: CPU twin or CUDA kernel by the input's device.
#include "ops/tensor_ops.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor concat(std::span<const Tensor> tensors, int dim) {
  FV_CHECK(!tensors.empty(), "concat: no inputs");
  return FV_DISPATCH(tensors[0].device(), concat(tensors, dim));
}

}  // namespace fastvideo::ops
