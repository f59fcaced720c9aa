// CUDA twin of src/ops/cpu/channel_norm.cpp (the Wan VAE RMS_norm, wan21.md §2.2). Channels are
// S positions apart, so each thread owns a vector of neighbouring positions and walks the
// channels twice (sum of squares, then the scaled store): every access is coalesced across threads.
#include <cuda_bf16.h>

#include <cmath>

#include "ops/channel_norm.h"
#include "ops/cuda/memory_bound.cuh"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

// x [B, C, S]; gamma [C] f32. kSilu: y = silu(norm), the norm kept in f32 in between.
template <int N, bool kSilu, class T>
__global__ void channel_rms_kernel(const T* __restrict__ x, const float* __restrict__ gamma,
                                   T* __restrict__ y, int64_t B, int64_t C, int64_t S,
                                   float sqrt_c) {
  const int64_t per_item = S / N;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < B * per_item;
       v += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = v / per_item, s0 = (v - b * per_item) * N;
    const T* xb = x + b * C * S + s0;
    T* yb = y + b * C * S + s0;
    float ss[N] = {};
    // Unrolled so several channels' loads are in flight: each thread walks all C channels.
#pragma unroll 4
    for (int64_t c = 0; c < C; ++c) {
      float a[N];
      k::load<N>(xb + c * S, a);
#pragma unroll
      for (int j = 0; j < N; ++j) ss[j] += a[j] * a[j];
    }
#pragma unroll
    for (int j = 0; j < N; ++j) ss[j] = sqrt_c / fmaxf(sqrtf(ss[j]), 1e-12f);
#pragma unroll 4
    for (int64_t c = 0; c < C; ++c) {
      float a[N];
      k::load<N>(xb + c * S, a);
      const float g = gamma[c];
#pragma unroll
      for (int j = 0; j < N; ++j) {
        a[j] *= ss[j] * g;
        // SiLU with the fast exponential and reciprocal: exact division and expf made the fused
        // pass slower than norm and SiLU apart (measured); rcp(inf) = 0 keeps large -a finite.
        if constexpr (kSilu) a[j] *= __frcp_rn(1.0f + __expf(-a[j]));
      }
      k::store<N>(yb + c * S, a);
    }
  }
}

template <bool kSilu>
Tensor channel_rms(const Tensor& x, const Tensor& gamma) {
  FV_CHECK(x.ndim() >= 2, "rms_norm_channels: expected [B,C,...], got ", x.describe());
  const int64_t B = x.size(0), C = x.size(1);
  const int64_t S = C == 0 || B == 0 ? 0 : x.numel() / (B * C);
  FV_CHECK(gamma.numel() == C, "rms_norm_channels: gamma ", gamma.describe(), " has ",
           gamma.numel(), " elements, expected ", C, " (channels of ", x.describe(), ")");
  k::check_same_device(gamma, x, "rms_norm_channels", "gamma");
  Tensor xc = x.contiguous();
  Tensor g = gamma.to(DType::F32).contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  CudaContext& ctx = k::context_of(x);
  const float sqrt_c = float(std::sqrt(double(C)));
  k::with_float_type(x, "rms_norm_channels", [&](auto tag) {
    using T = decltype(tag);
    const T* px = xc.data<T>();
    T* py = y.data<T>();
    const float* pg = g.data<float>();
    constexpr int N = k::kVector<T>;
    if (k::can_vectorise({px}, {S}, N)) {
      channel_rms_kernel<N, kSilu><<<k::grid_for(ctx, B * S / N), k::kThreads, 0, ctx.stream()>>>(
          px, pg, py, B, C, S, sqrt_c);
    } else {
      channel_rms_kernel<1, kSilu>
          <<<k::grid_for(ctx, B * S), k::kThreads, 0, ctx.stream()>>>(px, pg, py, B, C, S, sqrt_c);
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

}  // namespace

Tensor rms_norm_channels(const Tensor& x, const Tensor& gamma) {
  return channel_rms<false>(x, gamma);
}

Tensor rms_norm_channels_silu(const Tensor& x, const Tensor& gamma) {
  return channel_rms<true>(x, gamma);
}

}  // namespace fastvideo::ops::cuda
