// CUDA twins of src/ops/channels_last.h but the convolution (ops/cuda/conv.cpp, cuDNN's NDHWC
// kernels): the RMS norm over each pixel's channel row (a few lanes a row, the row kept in
// registers between the sum and the scaling), the bias + residual add and the nearest ×2
// upsampling, all in 16-byte vectors.
#include <cmath>

#include "ops/channels_last.h"
#include "ops/cuda/memory_bound.cuh"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

// A row's vectors are spread over `lanes` lanes (a power of two, up to a warp), at most
// kVectorsPerLane each, so the row stays in registers between the sum of squares and the scaling
// while few enough registers are used that the SM keeps many rows' loads in flight: Wan's 96, 192
// and 384 BF16 channels are 4, 8 and 16 lanes of 3 vectors.
constexpr int kVectorsPerLane = 4;

int lanes_for(int64_t vectors) {
  int lanes = 1;
  while (lanes < 32 && lanes * int64_t(kVectorsPerLane) < vectors) lanes *= 2;
  return lanes * int64_t(kVectorsPerLane) >= vectors ? lanes : 0;  // 0: the row is too long
}

// y[r, :] = (x[r, :] + b) / max(‖x[r, :] + b‖, 1e-12) · √C · gamma (then SiLU); b is the previous
// convolution's bias (nullptr: none), added here instead of in a pass of its own.
template <class T, bool kSilu>
__global__ void row_rms_kernel(const T* __restrict__ x, const float* __restrict__ gamma,
                               const float* __restrict__ bias, T* __restrict__ y, int64_t rows,
                               int vectors, int lanes, float sqrt_c) {
  constexpr int N = k::kVector<T>;
  const int rows_per_warp = 32 / lanes;
  const int lane = threadIdx.x % lanes;
  const int64_t warp = (blockIdx.x * int64_t(blockDim.x) + threadIdx.x) / 32;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x / 32 * rows_per_warp;
  // The loop runs warp-uniformly (the shuffles need every lane); lanes past the last row idle.
  for (int64_t first = warp * rows_per_warp; first < rows; first += stride) {
    const int64_t r = first + (threadIdx.x % 32) / lanes;
    const bool live = r < rows;
    const T* xr = x + r * vectors * N;
    float a[kVectorsPerLane][N];
    float ss = 0.f;
#pragma unroll
    for (int i = 0; i < kVectorsPerLane; ++i) {
      const int v = lane + i * lanes;
      if (live && v < vectors) {
        k::load<N>(xr + v * N, a[i]);
        if (bias) {
#pragma unroll
          for (int j = 0; j < N; ++j) a[i][j] += bias[v * N + j];
        }
#pragma unroll
        for (int j = 0; j < N; ++j) ss += a[i][j] * a[i][j];
      }
    }
    for (int offset = lanes / 2; offset > 0; offset /= 2)
      ss += __shfl_xor_sync(0xffffffffu, ss, offset);
    const float scale = sqrt_c / fmaxf(sqrtf(ss), 1e-12f);
#pragma unroll
    for (int i = 0; i < kVectorsPerLane; ++i) {
      const int v = lane + i * lanes;
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

// Any row length and alignment, one thread a row reading it twice: for rows the register kernel
// does not take (not a multiple of 16 bytes, or longer than 128 vectors).
template <class T, bool kSilu>
__global__ void row_rms_any_kernel(const T* __restrict__ x, const float* __restrict__ gamma,
                                   const float* __restrict__ bias, T* __restrict__ y, int64_t rows,
                                   int64_t C, float sqrt_c) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += int64_t(gridDim.x) * blockDim.x) {
    const T* xr = x + r * C;
    float ss = 0.f;
    for (int64_t c = 0; c < C; ++c) {
      const float v = k::to_f32(xr[c]) + (bias ? bias[c] : 0.f);
      ss += v * v;
    }
    const float scale = sqrt_c / fmaxf(sqrtf(ss), 1e-12f);
    for (int64_t c = 0; c < C; ++c) {
      float v = (k::to_f32(xr[c]) + (bias ? bias[c] : 0.f)) * scale * gamma[c];
      if constexpr (kSilu) v *= __frcp_rn(1.0f + __expf(-v));
      y[r * C + c] = k::from_f32<T>(v);
    }
  }
}

// A per-channel vector of C elements (gamma, a bias) as F32 on x's device.
Tensor channel_vector(const Tensor& t, const Tensor& x, int64_t C, const char* what) {
  FV_CHECK(t.numel() == C, "rms_norm_ndhwc: ", what, " ", t.describe(), " has ", t.numel(),
           " elements, expected ", C, " (the last dim of ", x.describe(), ")");
  k::check_same_device(t, x, "rms_norm_ndhwc", what);
  return t.to(DType::F32).contiguous();
}

template <bool kSilu>
Tensor row_rms(const Tensor& x, const Tensor& gamma, const Tensor& bias) {
  FV_CHECK(x.ndim() >= 1, "rms_norm_ndhwc: expected [..., C], got ", x.describe());
  const int64_t C = x.size(-1), rows = C == 0 ? 0 : x.numel() / C;
  const Tensor xc = x.contiguous(), g = channel_vector(gamma, x, C, "gamma");
  const Tensor b = bias.defined() ? channel_vector(bias, x, C, "bias") : Tensor();
  const float* pb = b.defined() ? b.data<float>() : nullptr;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "rms_norm_ndhwc", [&](auto tag) {
    using T = decltype(tag);
    constexpr int N = k::kVector<T>;
    const float sqrt_c = float(std::sqrt(double(C)));
    const int lanes = C % N == 0 ? lanes_for(C / N) : 0;
    if (lanes > 0 && k::aligned16(xc.raw_data())) {
      row_rms_kernel<T, kSilu><<<k::grid_for(ctx, rows * lanes), k::kThreads, 0, ctx.stream()>>>(
          xc.data<T>(), g.data<float>(), pb, y.data<T>(), rows, int(C / N), lanes, sqrt_c);
    } else {
      row_rms_any_kernel<T, kSilu><<<k::grid_for(ctx, rows), k::kThreads, 0, ctx.stream()>>>(
          xc.data<T>(), g.data<float>(), pb, y.data<T>(), rows, C, sqrt_c);
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

// y = x + bias[c] + residual, N elements a thread (N = 1 where the rows are not whole vectors).
template <class T, int N>
__global__ void bias_residual_kernel(const T* __restrict__ x, const float* __restrict__ bias,
                                     const T* __restrict__ residual, T* __restrict__ y,
                                     int64_t total, int64_t vectors) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c0 = (i % vectors) * N;
    float a[N], r[N];
    k::load<N>(x + i * N, a);
    k::load<N>(residual + i * N, r);
#pragma unroll
    for (int j = 0; j < N; ++j) a[j] = (a[j] + bias[c0 + j]) + r[j];  // as the CPU twin
    k::store<N>(y + i * N, a);
  }
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

Tensor rms_norm_ndhwc(const Tensor& x, const Tensor& gamma) {
  return row_rms<false>(x, gamma, Tensor());
}

Tensor rms_norm_silu_ndhwc(const Tensor& x, const Tensor& gamma, const Tensor& bias) {
  return row_rms<true>(x, gamma, bias);
}

Tensor add_bias_residual_ndhwc(const Tensor& x, const Tensor& bias, const Tensor& residual) {
  FV_CHECK(x.ndim() >= 1 && residual.shape() == x.shape() && residual.dtype() == x.dtype(),
           "add_bias_residual_ndhwc: residual ", residual.describe(), " does not match ",
           x.describe());
  const int64_t C = x.size(-1);
  FV_CHECK(bias.numel() == C, "add_bias_residual_ndhwc: bias ", bias.describe(), " has ",
           bias.numel(), " elements, expected ", C, " (the last dim of ", x.describe(), ")");
  k::check_same_device(residual, x, "add_bias_residual_ndhwc", "residual");
  k::check_same_device(bias, x, "add_bias_residual_ndhwc", "bias");
  const Tensor xc = x.contiguous(), rc = residual.contiguous(),
               b = bias.to(DType::F32).contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "add_bias_residual_ndhwc", [&](auto tag) {
    using T = decltype(tag);
    constexpr int N = k::kVector<T>;
    if (k::can_vectorise({xc.raw_data(), rc.raw_data(), y.raw_data()}, {C}, N)) {
      const int64_t total = y.numel() / N;
      bias_residual_kernel<T, N><<<k::grid_for(ctx, total), k::kThreads, 0, ctx.stream()>>>(
          xc.data<T>(), b.data<float>(), rc.data<T>(), y.data<T>(), total, C / N);
    } else {
      bias_residual_kernel<T, 1><<<k::grid_for(ctx, y.numel()), k::kThreads, 0, ctx.stream()>>>(
          xc.data<T>(), b.data<float>(), rc.data<T>(), y.data<T>(), y.numel(), C);
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

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
