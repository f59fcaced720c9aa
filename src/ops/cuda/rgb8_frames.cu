// CUDA twin of src/ops/cpu/rgb8_frames.cpp: one thread per pixel reads its three planes
// (coalesced along W) and writes its three bytes, so a warp stores 96 contiguous bytes.
#include <cuda_bf16.h>

#include "ops/cuda/memory_bound.cuh"
#include "ops/rgb8_frames.h"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

template <class T>
__global__ void rgb8_frames_kernel(const T* __restrict__ video, uint8_t* __restrict__ out,
                                   int64_t plane) {  // plane = F·H·W pixels
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < plane;
       p += int64_t(gridDim.x) * blockDim.x) {
#pragma unroll
    for (int c = 0; c < 3; ++c) out[p * 3 + c] = rgb8_value(k::to_f32(video[c * plane + p]));
  }
}

}  // namespace

Tensor rgb8_frames(const Tensor& video) {
  const int64_t F = video.size(2), H = video.size(3), W = video.size(4), plane = F * H * W;
  const Tensor v = video.contiguous();
  Tensor out = Tensor::empty({F, H, W, 3}, DType::U8, video.device());
  if (plane == 0) return out;
  CudaContext& ctx = k::context_of(video);
  k::with_float_type(v, "rgb8_frames", [&](auto tag) {
    using T = decltype(tag);
    rgb8_frames_kernel<<<k::grid_for(ctx, plane), k::kThreads, 0, ctx.stream()>>>(
        v.data<T>(), out.data<uint8_t>(), plane);
    FV_CUDA_CHECK_LAUNCH();
  });
  return out;
}

}  // namespace fastvideo::ops::cuda
