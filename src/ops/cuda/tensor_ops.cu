// CUDA twin of src/ops/cpu/tensor_ops.cpp. concat copies each input into its slice of the result
// (core/cuda/device_copy.cu); the result has the first input's dtype, other inputs converted.
#include <cstdint>

#include "ops/cuda/memory_bound.cuh"
#include "ops/tensor_ops.h"

namespace fastvideo::ops::cuda {

namespace k = cuda_kernels;

Tensor concat(std::span<const Tensor> tensors, int dim) {
  const Shape shape = concat_shape(tensors, dim);
  const Tensor& first = tensors.front();
  if (dim < 0) dim += first.ndim();
  for (const Tensor& t : tensors) k::check_same_device(t, first, "concat", "input");
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  // Each input into its slice of the result: a device copy, whose row path moves the runs that
  // are contiguous in both (everything inside `dim` and after it) 16 bytes at a time.
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    const int64_t len = t.size(dim);
    if (len > 0 && out.numel() > 0) out.slice(dim, offset, offset + len).copy_from(t);
    offset += len;
  }
  return out;
}

}  // namespace fastvideo::ops::cuda
