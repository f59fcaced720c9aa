// The kernels of ops/cuda/sage_kernels.h. Reductions are deterministic (partial sums in a fixed
// order, maxima by atomicMax on non-negative floats), so a call's bytes do not vary run to run.
#include "ops/cuda/sage_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <type_traits>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/ptx_common.cuh"
#include "ops/sage_attention.h"

namespace fastvideo::ops::cuda {

namespace {

constexpr int kD = int(kSageHeadDim);
constexpr int kStatRows = 256;  // key rows per CTA of the statistics kernel

struct Bf16x4 {
  __nv_bfloat162 lo, hi;
};

__device__ __forceinline__ void load4(const __nv_bfloat16* p, float (&x)[4]) {
  const Bf16x4 v = *reinterpret_cast<const Bf16x4*>(p);
  const float2 a = __bfloat1622float2(v.lo), b = __bfloat1622float2(v.hi);
  x[0] = a.x, x[1] = a.y, x[2] = b.x, x[3] = b.y;
}

__device__ __forceinline__ float int8_scale(float amax) { return amax > 0.f ? amax / 127.f : 1.f; }

__device__ __forceinline__ int8_t to_int8(float x, float scale) {
  return int8_t(max(-127, min(127, __float2int_rn(__fdiv_rn(x, scale)))));
}

// Per (chunk of kStatRows keys, head, batch item): thread d's f32 sum of k[·, d] over the chunk
// (its partial of the token mean) and the max of |v[·, d]| (into vmax, zeroed by the caller).
__global__ void kv_stats_kernel(const __nv_bfloat16* k, const __nv_bfloat16* v, int S, int H,
                                float* k_partial, unsigned* vmax) {
  const int chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z, d = threadIdx.x;
  const int chunks = gridDim.x;
  float sum = 0.f, amax = 0.f;
  const int end = min(S, (chunk + 1) * kStatRows);
  for (int s = chunk * kStatRows; s < end; ++s) {
    const int64_t at = ((int64_t(b) * S + s) * H + h) * kD + d;
    sum += __bfloat162float(k[at]);
    amax = fmaxf(amax, fabsf(__bfloat162float(v[at])));
  }
  k_partial[((int64_t(b) * H + h) * chunks + chunk) * kD + d] = sum;
  atomicMax(vmax + (int64_t(b) * H + h) * kD + d, __float_as_uint(amax));
}

// The token mean of k per (batch, head, channel): the chunks' partial sums added in order in
// double, divided once.
__global__ void k_mean_kernel(const float* k_partial, int chunks, int S, float* mean) {
  const int64_t bh = blockIdx.x;
  double sum = 0.0;
  for (int c = 0; c < chunks; ++c) sum += k_partial[(bh * chunks + c) * kD + threadIdx.x];
  mean[bh * kD + threadIdx.x] = float(sum / S);
}

// Q in Query groups: CTA per (16-row slab, head, batch item); warp w takes rows 16·slab + w and
// + 8 (one scale), lane l channels 4l .. 4l + 3.
__global__ void quantize_q_kernel(const __nv_bfloat16* q, int S, int H, float multiplier,
                                  int8_t* out, float* scales, int scale_count) {
  const int slab = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  float x[2][4] = {};
  float amax = 0.f;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = 16 * slab + w + 8 * r;
    if (row >= S) continue;
    load4(q + ((int64_t(b) * S + row) * H + h) * kD + 4 * lane, x[r]);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      x[r][i] *= multiplier;
      amax = fmaxf(amax, fabsf(x[r][i]));
    }
  }
  const float scale = int8_scale(warp_max(amax));
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = 16 * slab + w + 8 * r;
    if (row >= S) continue;
    char4 packed = make_char4(to_int8(x[r][0], scale), to_int8(x[r][1], scale),
                              to_int8(x[r][2], scale), to_int8(x[r][3], scale));
    *reinterpret_cast<char4*>(out + ((int64_t(b) * S + row) * H + h) * kD + 4 * lane) = packed;
  }
  if (lane == 0) scales[(int64_t(b) * H + h) * scale_count + 8 * slab + w] = scale;
}

// Smoothed K in Key groups: CTA per (128-key block, head, batch item); warp w takes the 32 keys
// 8j + 2w + {0, 1} of the block (one scale), lane l channels 4l .. 4l + 3. Two passes over the
// keys (the maximum, then the values), the second from L1/L2.
__global__ void quantize_k_kernel(const __nv_bfloat16* k, const float* mean, int S, int H,
                                  int8_t* out, float* scales, int scale_count) {
  const int block = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float4 mu = *reinterpret_cast<const float4*>(mean + (int64_t(b) * H + h) * kD + 4 * lane);
  auto smoothed = [&](int key, float (&x)[4]) {
    load4(k + ((int64_t(b) * S + key) * H + h) * kD + 4 * lane, x);
    x[0] -= mu.x, x[1] -= mu.y, x[2] -= mu.z, x[3] -= mu.w;
  };
  float amax = 0.f;
  for (int j = 0; j < 32; ++j) {
    const int key = 128 * block + 8 * (j / 2) + 2 * w + j % 2;
    if (key >= S) continue;
    float x[4];
    smoothed(key, x);
    for (float e : x) amax = fmaxf(amax, fabsf(e));
  }
  const float scale = int8_scale(warp_max(amax));
  for (int j = 0; j < 32; ++j) {
    const int key = 128 * block + 8 * (j / 2) + 2 * w + j % 2;
    if (key >= S) continue;
    float x[4];
    smoothed(key, x);
    *reinterpret_cast<char4*>(out + ((int64_t(b) * S + key) * H + h) * kD + 4 * lane) =
        make_char4(to_int8(x[0], scale), to_int8(x[1], scale), to_int8(x[2], scale),
                   to_int8(x[3], scale));
  }
  if (lane == 0) scales[(int64_t(b) * H + h) * scale_count + 4 * block + w] = scale;
}

// V to E4M3 and transposed: CTA per (64 keys, head, batch item); the 64 x 128 tile goes through
// shared memory as [channel][slot] elements, then out as rows of 64 keys of Vᵀ. E4m3Slots: bytes,
// keys in sage_v_slot order; F16Keys: the E4M3 values widened to f16 (exact), keys in order.
// Padding keys (>= S) are zero. Also writes v_scales.
template <SageVLayout kLayout>
__global__ void quantize_v_kernel(const __nv_bfloat16* v, const unsigned* vmax, int S, int H,
                                  int S_pad, void* out, float* v_scales) {
  constexpr bool kF16 = kLayout == SageVLayout::F16Keys;
  using Element = std::conditional_t<kF16, uint16_t, uint8_t>;  // f16 bits or E4M3 bits
  constexpr int kPartKeys = 16 / int(sizeof(Element));          // keys per 16-byte part of a row
  const int chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  __shared__ float scale[kD];
  __shared__ __align__(16) Element tile[kD][64];
  const int64_t bh = int64_t(b) * H + h;
  if (threadIdx.x < kD) {
    const float m = __uint_as_float(vmax[bh * kD + threadIdx.x]);
    scale[threadIdx.x] = m > 0.f ? m / 448.f : 1.f;
    if (chunk == 0) v_scales[bh * kD + threadIdx.x] = scale[threadIdx.x];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < 64 * (kD / 4); idx += blockDim.x) {
    const int key_in_chunk = idx / (kD / 4), c0 = 4 * (idx % (kD / 4));
    const int key = 64 * chunk + key_in_chunk;
    float x[4] = {0.f, 0.f, 0.f, 0.f};
    if (key < S) load4(v + ((int64_t(b) * S + key) * H + h) * kD + c0, x);
    const int slot =
        kF16 ? key_in_chunk : (key_in_chunk / 16) * 16 + sage_v_slot(key_in_chunk % 16);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const __nv_fp8_storage_t e4m3 =
          __nv_cvt_float_to_fp8(__fdiv_rn(x[i], scale[c0 + i]), __NV_SATFINITE, __NV_E4M3);
      if constexpr (kF16)
        tile[c0 + i][slot] = __half_as_ushort(__half(__nv_cvt_fp8_to_halfraw(e4m3, __NV_E4M3)));
      else
        tile[c0 + i][slot] = uint8_t(e4m3);
    }
  }
  __syncthreads();
  Element* rows = static_cast<Element*>(out);
  for (int idx = threadIdx.x; idx < kD * (64 / kPartKeys); idx += blockDim.x) {
    const int c = idx / (64 / kPartKeys), key = kPartKeys * (idx % (64 / kPartKeys));
    *reinterpret_cast<uint4*>(rows + (bh * kD + c) * S_pad + 64 * chunk + key) =
        *reinterpret_cast<const uint4*>(&tile[c][key]);
  }
}

}  // namespace

SageDeviceInputs sage_quantize(const Tensor& q, const Tensor& k, const Tensor& v,
                               float q_multiplier, SageVLayout v_layout) {
  const Device device = q.device();
  CudaContext& ctx = CudaContext::get(device.index);
  cudaStream_t stream = ctx.stream();
  const int B = int(q.size(0)), Sq = int(q.size(1)), H = int(q.size(2)), Sk = int(k.size(1));
  const int S_pad = (Sk + 127) / 128 * 128;
  const int q_scale_count = int(sage_query_scale_count(Sq));
  const int k_scale_count = int(sage_key_scale_count(Sk));
  SageDeviceInputs r;
  r.q_int8 = Tensor::empty({B, Sq, H, kD}, DType::I8, device);
  r.q_scales = Tensor::empty({B, H, q_scale_count}, DType::F32, device);
  r.k_int8 = Tensor::empty({B, Sk, H, kD}, DType::I8, device);
  r.k_scales = Tensor::empty({B, H, k_scale_count}, DType::F32, device);
  Tensor& vt = v_layout == SageVLayout::F16Keys ? r.v_f16_t : r.v_fp8_t;
  vt = Tensor::empty({B, H, kD, S_pad},
                     v_layout == SageVLayout::F16Keys ? DType::F16 : DType::F8E4M3, device);
  r.v_scales = Tensor::empty({B, H, kD}, DType::F32, device);

  const int chunks = (Sk + kStatRows - 1) / kStatRows;
  const Tensor k_partial = Tensor::empty({B, H, chunks, kD}, DType::F32, device);
  const Tensor k_mean = Tensor::empty({B, H, kD}, DType::F32, device);
  const Tensor vmax = Tensor::zeros({B, H, kD}, DType::F32, device);
  const auto* qd = q.data<__nv_bfloat16>();
  const auto* kd = k.data<__nv_bfloat16>();
  const auto* vd = v.data<__nv_bfloat16>();
  kv_stats_kernel<<<dim3(chunks, H, B), kD, 0, stream>>>(kd, vd, Sk, H, k_partial.data<float>(),
                                                          static_cast<unsigned*>(vmax.raw_data()));
  FV_CUDA_CHECK_LAUNCH();
  k_mean_kernel<<<B * H, kD, 0, stream>>>(k_partial.data<float>(), chunks, Sk,
                                           k_mean.data<float>());
  FV_CUDA_CHECK_LAUNCH();
  // Every 16-row slab of every 64-row block, so empty groups get their scale 1 as on the CPU.
  quantize_q_kernel<<<dim3((Sq + 63) / 64 * 4, H, B), 256, 0, stream>>>(
      qd, Sq, H, q_multiplier, static_cast<int8_t*>(r.q_int8.raw_data()),
      r.q_scales.data<float>(), q_scale_count);
  FV_CUDA_CHECK_LAUNCH();
  quantize_k_kernel<<<dim3((Sk + 127) / 128, H, B), 128, 0, stream>>>(
      kd, k_mean.data<float>(), Sk, H, static_cast<int8_t*>(r.k_int8.raw_data()),
      r.k_scales.data<float>(), k_scale_count);
  FV_CUDA_CHECK_LAUNCH();
  const auto quantize_v = v_layout == SageVLayout::F16Keys
                              ? quantize_v_kernel<SageVLayout::F16Keys>
                              : quantize_v_kernel<SageVLayout::E4m3Slots>;
  quantize_v<<<dim3(S_pad / 64, H, B), 256, 0, stream>>>(
      vd, static_cast<const unsigned*>(vmax.raw_data()), Sk, H, S_pad, vt.raw_data(),
      r.v_scales.data<float>());
  FV_CUDA_CHECK_LAUNCH();
  return r;
}

}  // namespace fastvideo::ops::cuda
