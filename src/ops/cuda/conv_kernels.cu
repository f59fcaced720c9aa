// Bias add and direct convolution for ops::cuda::conv3d / conv3d_ndhwc (see conv_kernels.h).
#include <cuda_bf16.h>

#include <algorithm>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/conv_kernels.h"

namespace fastvideo::ops::cuda::conv_detail {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// kVec elements moved as one aligned load/store (16 bytes when kVec·sizeof(T) = 16).
template <class T, int kVec>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};

// One thread per kVec consecutive elements of one (b, o) plane; plane % kVec == 0, so a pack
// never straddles two channels.
template <class T, class BiasT, int kVec>
__global__ void add_channel_bias_kernel(T* __restrict__ y, const BiasT* __restrict__ bias,
                                        int64_t packs, int64_t plane, int64_t channels) {
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < packs;
       p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t e = p * kVec;
    const float b = to_float(bias[(e / plane) % channels]);
    auto* ptr = reinterpret_cast<Pack<T, kVec>*>(y + e);
    Pack<T, kVec> pack = *ptr;
#pragma unroll
    for (int i = 0; i < kVec; ++i) pack.v[i] = from_float<T>(to_float(pack.v[i]) + b);
    *ptr = pack;
  }
}

// y [rows, O] += bias over the last dim, kVec elements a thread (O a multiple of kVec).
template <class T, class BiasT, int kVec>
__global__ void add_last_dim_bias_kernel(T* __restrict__ y, const BiasT* __restrict__ bias,
                                         int64_t packs, int64_t channels) {
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < packs;
       p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t e = p * kVec, c0 = e % channels;
    auto* ptr = reinterpret_cast<Pack<T, kVec>*>(y + e);
    Pack<T, kVec> pack = *ptr;
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      pack.v[i] = from_float<T>(to_float(pack.v[i]) + to_float(bias[c0 + i]));
    *ptr = pack;
  }
}

struct DirectGeometry {
  int64_t C, T, H, W;
  int64_t O, kt, kh, kw;
  int64_t To, Ho, Wo;
  int64_t pt, ph, pw;  // front padding per spatial dim; the back padding only sizes the output
};

template <class T>
__global__ void conv3d_direct_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                     const float* __restrict__ bias, T* __restrict__ y,
                                     DirectGeometry g, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t r = i;
    const int64_t wo = r % g.Wo;
    r /= g.Wo;
    const int64_t ho = r % g.Ho;
    r /= g.Ho;
    const int64_t to = r % g.To;
    r /= g.To;
    const int64_t o = r % g.O;
    const int64_t b = r / g.O;
    float acc = bias ? bias[o] : 0.0f;
    const T* xb = x + b * g.C * g.T * g.H * g.W;
    const T* wo_ptr = w + o * g.C * g.kt * g.kh * g.kw;
    for (int64_t c = 0; c < g.C; ++c) {
      for (int64_t dt = 0; dt < g.kt; ++dt) {
        const int64_t ti = to + dt - g.pt;
        if (ti < 0 || ti >= g.T) continue;
        for (int64_t dh = 0; dh < g.kh; ++dh) {
          const int64_t hi = ho + dh - g.ph;
          if (hi < 0 || hi >= g.H) continue;
          const T* xrow = xb + ((c * g.T + ti) * g.H + hi) * g.W;
          const T* wrow = wo_ptr + ((c * g.kt + dt) * g.kh + dh) * g.kw;
          for (int64_t dw = 0; dw < g.kw; ++dw) {
            const int64_t wi = wo + dw - g.pw;
            if (wi < 0 || wi >= g.W) continue;
            acc += to_float(xrow[wi]) * to_float(wrow[dw]);
          }
        }
      }
    }
    y[i] = from_float<T>(acc);
  }
}

int grid_for(int64_t work, int device) {
  const int64_t wanted = (work + kThreads - 1) / kThreads;
  const int64_t cap = int64_t(CudaContext::get(device).info().sm_count) * 32;
  return int(std::max<int64_t>(1, std::min(wanted, cap)));
}

template <class T, class BiasT>
void launch_bias(const Tensor& y, const Tensor& bias, int64_t plane, int64_t channels) {
  const int device = y.device().index;
  cudaStream_t stream = CudaContext::get(device).stream();
  constexpr int kWide = int(16 / sizeof(T));
  T* py = static_cast<T*>(y.raw_data());
  const auto* pb = static_cast<const BiasT*>(bias.raw_data());
  const bool aligned = reinterpret_cast<uintptr_t>(py) % 16 == 0;
  if (plane % kWide == 0 && aligned) {
    const int64_t packs = y.numel() / kWide;
    add_channel_bias_kernel<T, BiasT, kWide>
        <<<grid_for(packs, device), kThreads, 0, stream>>>(py, pb, packs, plane, channels);
  } else {
    add_channel_bias_kernel<T, BiasT, 1>
        <<<grid_for(y.numel(), device), kThreads, 0, stream>>>(py, pb, y.numel(), plane, channels);
  }
  FV_CUDA_CHECK_LAUNCH();
}

template <class T, class BiasT>
void launch_last_dim_bias(const Tensor& y, const Tensor& bias, int64_t channels) {
  const int device = y.device().index;
  cudaStream_t stream = CudaContext::get(device).stream();
  constexpr int kWide = int(16 / sizeof(T));
  T* py = static_cast<T*>(y.raw_data());
  const auto* pb = static_cast<const BiasT*>(bias.raw_data());
  if (channels % kWide == 0 && reinterpret_cast<uintptr_t>(py) % 16 == 0) {
    const int64_t packs = y.numel() / kWide;
    add_last_dim_bias_kernel<T, BiasT, kWide>
        <<<grid_for(packs, device), kThreads, 0, stream>>>(py, pb, packs, channels);
  } else {
    add_last_dim_bias_kernel<T, BiasT, 1>
        <<<grid_for(y.numel(), device), kThreads, 0, stream>>>(py, pb, y.numel(), channels);
  }
  FV_CUDA_CHECK_LAUNCH();
}

template <class T>
void launch_bias_for(const Tensor& y, const Tensor& bias, int64_t plane, int64_t channels) {
  if (bias.dtype() == DType::BF16) {
    launch_bias<T, __nv_bfloat16>(y, bias, plane, channels);
  } else {
    launch_bias<T, float>(y, bias, plane, channels);
  }
}

}  // namespace

void add_channel_bias(const Tensor& y, const Tensor& bias) {
  FV_CHECK(y.ndim() >= 2 && y.is_contiguous(), "conv bias: expected a contiguous [B,O,...], got ",
           y.describe());
  const int64_t channels = y.size(1);
  FV_CHECK(bias.numel() == channels && bias.is_contiguous() && bias.device() == y.device() &&
               (bias.dtype() == DType::F32 || bias.dtype() == DType::BF16),
           "conv bias: expected ", channels, " F32 or BF16 values on ", y.device().name(), ", got ",
           bias.describe());
  if (y.numel() == 0) return;
  const int64_t plane = y.numel() / (y.size(0) * channels);
  if (y.dtype() == DType::BF16) {
    launch_bias_for<__nv_bfloat16>(y, bias, plane, channels);
  } else {
    FV_CHECK(y.dtype() == DType::F32, "conv bias: output must be F32 or BF16, got ", y.describe());
    launch_bias_for<float>(y, bias, plane, channels);
  }
}

void add_last_dim_bias(const Tensor& y, const Tensor& bias) {
  FV_CHECK(y.ndim() >= 1 && y.is_contiguous(), "conv bias: expected a contiguous [..., O], got ",
           y.describe());
  const int64_t channels = y.size(-1);
  FV_CHECK(bias.numel() == channels && bias.is_contiguous() && bias.device() == y.device() &&
               (bias.dtype() == DType::F32 || bias.dtype() == DType::BF16),
           "conv bias: expected ", channels, " F32 or BF16 values on ", y.device().name(), ", got ",
           bias.describe());
  if (y.numel() == 0) return;
  const bool bf16_bias = bias.dtype() == DType::BF16;
  if (y.dtype() == DType::BF16) {
    bf16_bias ? launch_last_dim_bias<__nv_bfloat16, __nv_bfloat16>(y, bias, channels)
              : launch_last_dim_bias<__nv_bfloat16, float>(y, bias, channels);
  } else {
    FV_CHECK(y.dtype() == DType::F32, "conv bias: output must be F32 or BF16, got ", y.describe());
    bf16_bias ? launch_last_dim_bias<float, __nv_bfloat16>(y, bias, channels)
              : launch_last_dim_bias<float, float>(y, bias, channels);
  }
}

Tensor conv3d_direct(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const std::array<int64_t, 6>& pad) {
  FV_CHECK(x.ndim() == 5 && weight.ndim() == 5 && x.is_contiguous() && weight.is_contiguous() &&
               x.dtype() == weight.dtype() && x.size(1) == weight.size(1),
           "conv3d_direct: expected contiguous x [B,C,T,H,W] and weight [O,C,kt,kh,kw] of one "
           "dtype, got ",
           x.describe(), " and ", weight.describe());
  DirectGeometry g{x.size(1),
                   x.size(2),
                   x.size(3),
                   x.size(4),
                   weight.size(0),
                   weight.size(2),
                   weight.size(3),
                   weight.size(4),
                   0,
                   0,
                   0,
                   pad[0],
                   pad[2],
                   pad[4]};
  g.To = g.T + pad[0] + pad[1] - g.kt + 1;
  g.Ho = g.H + pad[2] + pad[3] - g.kh + 1;
  g.Wo = g.W + pad[4] + pad[5] - g.kw + 1;
  FV_CHECK(g.To > 0 && g.Ho > 0 && g.Wo > 0, "conv3d_direct: kernel ", shape_str(weight.shape()),
           " does not fit ", x.describe());
  Tensor y = Tensor::empty({x.size(0), g.O, g.To, g.Ho, g.Wo}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  Tensor b32;
  if (bias.defined()) b32 = bias.to(DType::F32).contiguous();
  const float* pb = b32.defined() ? static_cast<const float*>(b32.raw_data()) : nullptr;
  const int device = x.device().index;
  cudaStream_t stream = CudaContext::get(device).stream();
  const int64_t total = y.numel();
  if (x.dtype() == DType::BF16) {
    conv3d_direct_kernel<__nv_bfloat16><<<grid_for(total, device), kThreads, 0, stream>>>(
        static_cast<const __nv_bfloat16*>(x.raw_data()),
        static_cast<const __nv_bfloat16*>(weight.raw_data()), pb,
        static_cast<__nv_bfloat16*>(y.raw_data()), g, total);
  } else {
    FV_CHECK(x.dtype() == DType::F32, "conv3d_direct: expected F32 or BF16, got ", x.describe());
    conv3d_direct_kernel<float><<<grid_for(total, device), kThreads, 0, stream>>>(
        static_cast<const float*>(x.raw_data()), static_cast<const float*>(weight.raw_data()), pb,
        static_cast<float*>(y.raw_data()), g, total);
  }
  FV_CUDA_CHECK_LAUNCH();
  return y;
}

}  // namespace fastvideo::ops::cuda::conv_detail
