#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>

#include "core/cuda/cuda_check.h"
#include "ops/cuda/bias_activation.h"

namespace fastvideo::ops::cuda_detail {

namespace {

__device__ inline float load(const float* p) { return *p; }
__device__ inline float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }
__device__ inline float load(const __half* p) { return __half2float(*p); }
__device__ inline void store(float* p, float v) { *p = v; }
__device__ inline void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
__device__ inline void store(__half* p, float v) { *p = __float2half_rn(v); }

__device__ inline float gelu_tanh_f32(float v) {
  const float k = 0.7978845608028654f;  // √(2/π); same formula as cpu::gelu_tanh
  return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
}

// Only small or degenerate products come here, so one element per thread is enough.
template <class T>
__global__ void bias_activation_kernel(T* d, const T* bias, int64_t total, int64_t n, bool gelu) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = load(d + i);
    if (bias) v += load(bias + i % n);
    if (gelu) v = gelu_tanh_f32(v);
    store(d + i, v);
  }
}

__global__ void scale_bias_activation_kernel(uint4* d, const float* row_scales,
                                             const float* col_scales, const uint4* bias,
                                             int64_t chunks, int64_t row_chunks, bool gelu) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < chunks;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t row = i / row_chunks, c0 = (i % row_chunks) * 8;
    uint4 v = d[i];
    const uint4 b = bias ? bias[i % row_chunks] : make_uint4(0, 0, 0, 0);
    auto* h = reinterpret_cast<__nv_bfloat162*>(&v);
    const auto* hb = reinterpret_cast<const __nv_bfloat162*>(&b);
    const float rs = row_scales[row];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      float2 f = __bfloat1622float2(h[j]);
      const float2 fb = __bfloat1622float2(hb[j]);
      f.x = f.x * rs * col_scales[c0 + 2 * j] + fb.x;
      f.y = f.y * rs * col_scales[c0 + 2 * j + 1] + fb.y;
      if (gelu) f = make_float2(gelu_tanh_f32(f.x), gelu_tanh_f32(f.y));
      h[j] = __float22bfloat162_rn(f);
    }
    d[i] = v;
  }
}

template <class T>
void launch(const Tensor& d, const Tensor& bias, bool gelu, cudaStream_t stream) {
  const int64_t total = d.numel(), n = d.size(1);
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((total + threads - 1) / threads, 65535);
  bias_activation_kernel<T><<<unsigned(blocks), threads, 0, stream>>>(
      static_cast<T*>(d.raw_data()),
      bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr, total, n, gelu);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace

void bias_activation_inplace(const Tensor& d, const Tensor& bias, bool gelu_tanh,
                             cudaStream_t stream) {
  FV_CHECK(d.ndim() == 2 && d.is_contiguous() && !d.device().is_cpu(),
           "bias_activation: expected a contiguous 2-D GPU tensor, got ", d.describe());
  if (d.numel() == 0 || (!bias.defined() && !gelu_tanh)) return;
  FV_CHECK(!bias.defined() || (bias.dtype() == d.dtype() && bias.numel() == d.size(1) &&
                               bias.is_contiguous() && bias.device() == d.device()),
           "bias_activation: bias ", bias.describe(), " does not fit ", d.describe());
  switch (d.dtype()) {
    case DType::F32:
      return launch<float>(d, bias, gelu_tanh, stream);
    case DType::BF16:
      return launch<__nv_bfloat16>(d, bias, gelu_tanh, stream);
    case DType::F16:
      return launch<__half>(d, bias, gelu_tanh, stream);
    default:
      fail("bias_activation: dtype ", dtype_name(d.dtype()), " is not supported");
  }
}

void scale_bias_activation_inplace(const Tensor& d, const Tensor& row_scales,
                                   const Tensor& col_scales, const Tensor& bias, bool gelu_tanh,
                                   cudaStream_t stream) {
  const int64_t m = d.size(0), n = d.size(1);
  FV_CHECK(d.ndim() == 2 && d.dtype() == DType::BF16 && d.is_contiguous() && n % 8 == 0 &&
               row_scales.dtype() == DType::F32 && row_scales.numel() == m &&
               col_scales.dtype() == DType::F32 && col_scales.numel() == n &&
               (!bias.defined() || (bias.dtype() == DType::BF16 && bias.numel() == n)),
           "scale_bias_activation: d ", d.describe(), ", scales ", row_scales.describe(), " and ",
           col_scales.describe(), ", bias ", bias.describe(), " do not fit");
  const int64_t chunks = d.numel() / 8;
  if (chunks == 0) return;
  const int threads = 256;
  const int64_t blocks = std::min<int64_t>((chunks + threads - 1) / threads, 16384);
  scale_bias_activation_kernel<<<unsigned(blocks), threads, 0, stream>>>(
      static_cast<uint4*>(d.raw_data()), row_scales.data<float>(), col_scales.data<float>(),
      bias.defined() ? static_cast<const uint4*>(bias.raw_data()) : nullptr, chunks, n / 8,
      gelu_tanh);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda_detail
