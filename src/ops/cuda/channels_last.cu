// CUDA twins of src/ops/channels_last.h but the convolution (ops/cuda/conv.cpp, cuDNN's NDHWC
// kernels): the RMS norm over each pixel's channel row (8 lanes a row, the row kept in registers
// between the sum and the scaling) and the nearest ×2 upsampling, both in 16-byte vectors.
#include <cmath>

#include "ops/channels_last.h"
#include "ops/cuda/memory_bound.cuh"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

constexpr int kLanesPerRow = 8;
constexpr int kMaxVectorsPerLane = 12;  // rows up to 96 vectors: 384 F32 or 768 BF16 channels

// y[r, :] = x[r, :] / max(‖x[r, :]‖, 1e-12) · √C · gamma (then SiLU): kLanesPerRow lanes a row,
// each holding its vectors of the row between the sum of squares and the scaling.
template <class T, bool kSilu>
__global__ void row_rms_kernel(const T* __restrict__ x, const float* __restrict__ gamma,
                               T* __restrict__ y, int64_t rows, int vectors, float sqrt_c) {
  constexpr int N = k::kVector<T>;
  constexpr int kRowsPerWarp = 32 / kLanesPerRow;
  const int lane = threadIdx.x % kLanesPerRow;
  const int64_t thread = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x / kLanesPerRow;
  // The loop runs warp-uniformly (the shuffles need every lane); lanes past the last row idle.
  for (int64_t first = thread / 32 * kRowsPerWarp; first < rows; first += stride) {
    const int64_t r = first + (threadIdx.x % 32) / kLanesPerRow;
    const bool live = r < rows;
    const T* xr = x + r * vectors * N;
    float a[kMaxVectorsPerLane][N];
    float ss = 0.f;
#pragma unroll
    for (int i = 0; i < kMaxVectorsPerLane; ++i) {
      const int v = lane + i * kLanesPerRow;
      if (live && v < vectors) {
        k::load<N>(xr + v * N, a[i]);
#pragma unroll
        for (int j = 0; j < N; ++j) ss += a[i][j] * a[i][j];
      }
    }
#pragma unroll
    for (int offset = kLanesPerRow / 2; offset > 0; offset /= 2)
      ss += __shfl_xor_sync(0xffffffffu, ss, offset);
    const float scale = sqrt_c / fmaxf(sqrtf(ss), 1e-12f);
#pragma unroll
    for (int i = 0; i < kMaxVectorsPerLane; ++i) {
      const int v = lane + i * kLanesPerRow;
      if (live && v < vectors) {
#pragma unroll
        for (int j = 0; j < N; ++j) {
          a[i][j] *= scale * gamma[v * N + j];
          if constexpr (kSilu) a[i][j] *= __frcp_rn(1.0f + __expf(-a[i][j]));
        }
        k::store<N>(y + r * vectors * N + v * N, a[i]);
      }
    }
  }
}

// Any row length and alignment, one thread a row reading it twice: for shapes the register
// kernel does not take (Wan2.1's 96, 192 and 384 channels all go there).
template <class T, bool kSilu>
__global__ void row_rms_any_kernel(const T* __restrict__ x, const float* __restrict__ gamma,
                                   T* __restrict__ y, int64_t rows, int64_t C, float sqrt_c) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x) {
    const T* xr = x + r * C;
    float ss = 0.f;
    for (int64_t c = 0; c < C; ++c) {
      const float v = k::to_f32(xr[c]);
      ss += v * v;
    }
    const float scale = sqrt_c / fmaxf(sqrtf(ss), 1e-12f);
    for (int64_t c = 0; c < C; ++c) {
      float v = k::to_f32(xr[c]) * scale * gamma[c];
      if constexpr (kSilu) v *= __frcp_rn(1.0f + __expf(-v));
      y[r * C + c] = k::from_f32<T>(v);
    }
  }
}

template <bool kSilu>
Tensor row_rms(const Tensor& x, const Tensor& gamma) {
  FV_CHECK(x.ndim() >= 1, "rms_norm_ndhwc: expected [..., C], got ", x.describe());
  const int64_t C = x.size(-1), rows = C == 0 ? 0 : x.numel() / C;
  FV_CHECK(gamma.numel() == C, "rms_norm_ndhwc: gamma ", gamma.describe(), " has ", gamma.numel(),
           " elements, expected ", C, " (the last dim of ", x.describe(), ")");
  k::check_same_device(gamma, x, "rms_norm_ndhwc", "gamma");
  const Tensor xc = x.contiguous(), g = gamma.to(DType::F32).contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "rms_norm_ndhwc", [&](auto tag) {
    using T = decltype(tag);
    constexpr int N = k::kVector<T>;
    const float sqrt_c = float(std::sqrt(double(C)));
    if (C % N == 0 && C / N <= kLanesPerRow * kMaxVectorsPerLane && k::aligned16(xc.raw_data())) {
      row_rms_kernel<T, kSilu>
          <<<k::grid_for(ctx, rows * kLanesPerRow), k::kThreads, 0, ctx.stream()>>>(
              xc.data<T>(), g.data<float>(), y.data<T>(), rows, int(C / N), sqrt_c);
    } else {
      row_rms_any_kernel<T, kSilu><<<k::grid_for(ctx, rows), k::kThreads, 0, ctx.stream()>>>(
          xc.data<T>(), g.data<float>(), y.data<T>(), rows, C, sqrt_c);
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

// One output vector of [B·T, 2H, 2W, C] a thread from input pixel (h / 2, w / 2).
template <class T, int N>
__global__ void upsample_ndhwc_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t total,
                                      int64_t H, int64_t W, int64_t vectors) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t v = i % vectors, pixel = i / vectors;
    const int64_t w2 = pixel % (2 * W), h2 = (pixel / (2 * W)) % (2 * H),
                  frame = pixel / (4 * H * W);
    const int64_t from = ((frame * H + h2 / 2) * W + w2 / 2) * vectors + v;
    float a[N];
    k::load<N>(x + from * N, a);
    k::store<N>(y + i * N, a);
  }
}

}  // namespace

Tensor rms_norm_ndhwc(const Tensor& x, const Tensor& gamma) { return row_rms<false>(x, gamma); }

Tensor rms_norm_silu_ndhwc(const Tensor& x, const Tensor& gamma) { return row_rms<true>(x, gamma); }

Tensor upsample_nearest2x_ndhwc(const Tensor& x) {
  FV_CHECK(x.ndim() == 5, "upsample_nearest2x_ndhwc: expected [B,T,H,W,C], got ", x.describe());
  const int64_t H = x.size(2), W = x.size(3), C = x.size(4);
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), 2 * H, 2 * W, C}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "upsample_nearest2x_ndhwc", [&](auto tag) {
    using T = decltype(tag);
    constexpr int N = k::kVector<T>;
    if (k::can_vectorise({xc.raw_data(), y.raw_data()}, {C}, N)) {
      const int64_t total = y.numel() / N;
      upsample_ndhwc_kernel<T, N><<<k::grid_for(ctx, total), k::kThreads, 0, ctx.stream()>>>(
          xc.data<T>(), y.data<T>(), total, H, W, C / N);
    } else {
      const int64_t total = y.numel();
      upsample_ndhwc_kernel<T, 1><<<k::grid_for(ctx, total), k::kThreads, 0, ctx.stream()>>>(
          xc.data<T>(), y.data<T>(), total, H, W, C);
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

}  // namespace fastvideo::ops::cuda
