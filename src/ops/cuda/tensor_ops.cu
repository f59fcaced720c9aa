// CUDA twin of src/ops/cpu/tensor_ops.cpp. concat sees every input as [outer, len·inner] and the
// result as [outer, total·inner]; one launch copies up to kMaxParts inputs, one thread per element.
// The result has the first input's dtype; other inputs are converted to it first.
#include <cstdint>
#include <vector>

#include "ops/cuda/memory_bound.cuh"
#include "ops/tensor_ops.h"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

constexpr int kMaxParts = 8;

struct Parts {
  const void* data[kMaxParts];
  int64_t row[kMaxParts];     // len·inner: elements of one outer row of this input
  int64_t offset[kMaxParts];  // where that row starts inside the result's row
  int count;
  int64_t group_row;  // Σ row over this launch's inputs
  int64_t out_row;    // total·inner
};

template <class E>
__global__ void concat_kernel(Parts parts, E* __restrict__ out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = i / parts.group_row;
    int64_t e = i - o * parts.group_row;
    int p = 0;
    while (e >= parts.row[p]) e -= parts.row[p++];
    out[o * parts.out_row + parts.offset[p] + e] =
        static_cast<const E*>(parts.data[p])[o * parts.row[p] + e];
  }
}

template <class E>
void launch(const CudaContext& ctx, const Parts& parts, void* out, int64_t outer) {
  const int64_t n = outer * parts.group_row;
  if (n == 0) return;
  concat_kernel<<<k::grid_for(ctx, n), k::kThreads, 0, ctx.stream()>>>(parts, static_cast<E*>(out),
                                                                       n);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace

Tensor concat(std::span<const Tensor> tensors, int dim) {
  const Shape shape = concat_shape(tensors, dim);
  const Tensor& first = tensors.front();
  const int nd = first.ndim();
  if (dim < 0) dim += nd;
  for (const Tensor& t : tensors) k::check_same_device(t, first, "concat", "input");
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < dim; ++d) outer *= shape[d];
  for (int d = dim + 1; d < nd; ++d) inner *= shape[d];
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  if (out.numel() == 0) return out;
  std::vector<Tensor> inputs;
  for (const Tensor& t : tensors) inputs.push_back(t.to(first.dtype()).contiguous());
  CudaContext& ctx = k::context_of(first);
  const size_t element = dtype_size(first.dtype());
  FV_CHECK(element == 1 || element == 2 || element == 4 || element == 8,
           "concat: ", first.describe(), " has an element size the CUDA kernel does not copy");
  int64_t offset = 0;
  size_t next = 0;
  while (next < inputs.size()) {
    Parts parts{};
    parts.out_row = shape[dim] * inner;
    for (; next < inputs.size() && parts.count < kMaxParts; ++next) {
      const int64_t row = inputs[next].size(dim) * inner;
      if (row > 0) {
        parts.data[parts.count] = inputs[next].raw_data();
        parts.row[parts.count] = row;
        parts.offset[parts.count] = offset;
        parts.group_row += row;
        ++parts.count;
      }
      offset += row;
    }
    if (parts.count == 0) continue;
    switch (element) {
      case 1:
        launch<uint8_t>(ctx, parts, out.raw_data(), outer);
        break;
      case 2:
        launch<uint16_t>(ctx, parts, out.raw_data(), outer);
        break;
      case 4:
        launch<uint32_t>(ctx, parts, out.raw_data(), outer);
        break;
      default:
        launch<uint64_t>(ctx, parts, out.raw_data(), outer);
        break;
    }
  }
  return out;
}

}  // namespace fastvideo::ops::cuda
