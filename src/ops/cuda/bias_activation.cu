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

// Only small or degenerate products come here, so one element per thread is enough.
template <class T>
__global__ void bias_activation_kernel(T* d, const T* bias, int64_t total, int64_t n, bool gelu) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = load(d + i);
    if (bias) v += load(bias + i % n);
    if (gelu) {
      const float k = 0.7978845608028654f;  // √(2/π); same formula as cpu::gelu_tanh
      v = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
    store(d + i, v);
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

}  // namespace fastvideo::ops::cuda_detail
