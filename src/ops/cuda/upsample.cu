// CUDA twin of upsample_nearest2x in src/ops/cpu/conv.cpp (wan21.md §2.2: ×2 nearest is pixel
// duplication). Each thread reads a vector of N pixels of one input row and writes 2N pixels to
// both output rows; the dtype is kept. (conv.h's convolutions live in another file.)
#include <cuda_bf16.h>

#include "ops/conv.h"
#include "ops/cuda/memory_bound.cuh"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

// x [rows = planes·H, W] -> y [planes·2H, 2W]; W % N == 0.
template <int N, class T>
__global__ void upsample2x_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                  int64_t W) {
  const int64_t per_row = W / N;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < rows * per_row;
       v += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = v / per_row, w0 = (v - r * per_row) * N;
    float a[N], d[2 * N];
    k::load<N>(x + r * W + w0, a);
#pragma unroll
    for (int j = 0; j < N; ++j) d[2 * j] = d[2 * j + 1] = a[j];
    T* top = y + r * 4 * W + 2 * w0;  // input row r -> output rows 2r and 2r+1 of its plane
    k::store<2 * N>(top, d);
    k::store<2 * N>(top + 2 * W, d);
  }
}

}  // namespace

Tensor upsample_nearest2x(const Tensor& x) {
  FV_CHECK(x.ndim() >= 2, "upsample_nearest2x: expected [..., H, W], got ", x.describe());
  const int64_t H = x.size(-2), W = x.size(-1);
  const int64_t rows = W == 0 ? 0 : x.numel() / W;
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 2] = 2 * H;
  out_shape.back() = 2 * W;
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "upsample_nearest2x", [&](auto tag) {
    using T = decltype(tag);
    const T* px = xc.data<T>();
    T* py = y.data<T>();
    constexpr int N = k::kVector<T>;
    if (k::can_vectorise({px}, {W}, N)) {
      upsample2x_kernel<N>
          <<<k::grid_for(ctx, rows * W / N), k::kThreads, 0, ctx.stream()>>>(px, py, rows, W);
    } else {
      upsample2x_kernel<1>
          <<<k::grid_for(ctx, rows * W), k::kThreads, 0, ctx.stream()>>>(px, py, rows, W);
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

}  // namespace fastvideo::ops::cuda
