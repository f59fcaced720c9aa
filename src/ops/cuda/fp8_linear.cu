// ops::cuda::quantize_rows_fp8 and fp8_linear (ops/fp8_linear.h): a warp or a CTA quantizes a row
// (its absolute maximum, then each element divided by the scale and rounded by the hardware's
// satfinite E4M3 conversion, as the CPU twin rounds), and cuBLASLt's FP8 GEMM writes bf16: with
// both operands' row scales as outer vectors where it plans them, else with unit scales and the
// scales, bias and GELU applied by one kernel after it (cublaslt_gemm.h).
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <algorithm>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/cublaslt_gemm.h"
#include "ops/fp8_linear.h"

namespace fastvideo::ops::cuda {

namespace {

constexpr int kThreads = 128;

// Eight bf16 values divided by s, to eight E4M3 codes.
__device__ uint2 quantize_chunk(const uint4& v, float s) {
  const auto* h = reinterpret_cast<const __nv_bfloat162*>(&v);
  uint16_t pairs[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(h[i]);
    pairs[i] = __nv_cvt_float2_to_fp8x2(make_float2(__fdiv_rn(f.x, s), __fdiv_rn(f.y, s)),
                                        __NV_SATFINITE, __NV_E4M3);
  }
  return make_uint2(uint32_t(pairs[0]) | uint32_t(pairs[1]) << 16,
                    uint32_t(pairs[2]) | uint32_t(pairs[3]) << 16);
}

__device__ float chunk_amax(const uint4& v, float amax) {
  const auto* h = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(h[i]);
    amax = fmaxf(amax, fmaxf(fabsf(f.x), fabsf(f.y)));  // NaN is passed over, as on the CPU
  }
  return amax;
}

// Rows of up to kRowThreads * kChunks chunks of 8, read once: each of a row's kRowThreads threads
// (a warp, or the whole CTA) loads its chunks into registers before it needs any, so a row is one
// DRAM read and a short warp for a 1536-wide row rather than a CTA (the two-pass kernel below read
// every row twice and, at Wan's widths, left most of a CTA idle).
constexpr int kRegisterThreads = 256;
template <int kRowThreads, int kChunks>
__global__ void __launch_bounds__(kRegisterThreads)
    quantize_rows_in_registers(const __nv_bfloat16* x, int64_t rows, int64_t K, uint8_t* q,
                               float* scales) {
  static_assert(kRowThreads == 32 || kRowThreads == kRegisterThreads);
  const int64_t row =
      int64_t(blockIdx.x) * (kRegisterThreads / kRowThreads) + threadIdx.x / kRowThreads;
  const int t = int(threadIdx.x % kRowThreads), chunks = int(K / 8);
  const bool live = row < rows;
  const uint4* in = reinterpret_cast<const uint4*>(x + (live ? row : 0) * K);
  uint4 v[kChunks] = {};
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < kChunks; ++i) {
    if (live && t + i * kRowThreads < chunks) v[i] = in[t + i * kRowThreads];
  }
#pragma unroll
  for (int i = 0; i < kChunks; ++i) {
    if (live && t + i * kRowThreads < chunks) amax = chunk_amax(v[i], amax);
  }
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  if constexpr (kRowThreads > 32) {
    __shared__ float warp_max[kRowThreads / 32];
    if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = amax;
    __syncthreads();
    amax = warp_max[0];
#pragma unroll
    for (int w = 1; w < kRowThreads / 32; ++w) amax = fmaxf(amax, warp_max[w]);
  }
  if (!live) return;
  const float s = amax > 0.f ? __fdiv_rn(amax, kE4m3Max) : 1.f;
  if (t == 0) scales[row] = s;
  uint2* out = reinterpret_cast<uint2*>(q + row * K);
#pragma unroll
  for (int i = 0; i < kChunks; ++i) {
    if (t + i * kRowThreads < chunks) out[t + i * kRowThreads] = quantize_chunk(v[i], s);
  }
}

// The two shapes: a warp a row up to 2048 wide (the 1.3B's 1536), a CTA a row up to 14336 (the
// 14B's 5120, the FFNs' 8960 and 13824).
constexpr int kWarpChunks = 8, kBlockChunks = 7;

// Row blockIdx.x of x [rows, K] (K a multiple of 8, rows 16-byte aligned): 8 elements a chunk.
// For rows wider than quantize_rows_in_registers holds.
__global__ void __launch_bounds__(kThreads)
    quantize_rows_kernel(const __nv_bfloat16* x, int64_t K, uint8_t* q, float* scales) {
  const int64_t row = blockIdx.x;
  const uint4* in = reinterpret_cast<const uint4*>(x + row * K);
  const int chunks = int(K / 8);
  float amax = 0.f;
  for (int c = threadIdx.x; c < chunks; c += kThreads) amax = chunk_amax(in[c], amax);
  __shared__ float warp_max[kThreads / 32];
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = amax;
  __syncthreads();
  amax = warp_max[0];
#pragma unroll
  for (int w = 1; w < kThreads / 32; ++w) amax = fmaxf(amax, warp_max[w]);
  const float s = amax > 0.f ? __fdiv_rn(amax, kE4m3Max) : 1.f;
  if (threadIdx.x == 0) scales[row] = s;
  uint2* out = reinterpret_cast<uint2*>(q + row * K);
  for (int c = threadIdx.x; c < chunks; c += kThreads) out[c] = quantize_chunk(in[c], s);
}

void check_fp8_gpu(const Device& device) {
  const CudaDeviceInfo& info = CudaContext::get(device.index).info();
  FV_CHECK(info.major * 10 + info.minor >= 89,
           "FP8 linears need FP8 tensor cores (compute capability 8.9 or newer); ", info.name,
           " is sm_", info.major, info.minor);
}

}  // namespace

Fp8Rows quantize_rows_fp8(const Tensor& x) {
  FV_CHECK(x.dtype() == DType::BF16 && x.size(-1) % 16 == 0,
           "quantize_rows_fp8 on a GPU takes BF16 rows of a multiple of 16 elements, got ",
           x.describe());
  const Tensor xc = x.contiguous();
  const int64_t K = x.size(-1), rows = K == 0 ? 0 : x.numel() / K;
  Fp8Rows q{Tensor::empty(x.shape(), DType::F8E4M3, x.device()),
            Tensor::empty({rows}, DType::F32, x.device())};
  if (rows == 0 || K == 0) return q;
  FV_CHECK(rows < (int64_t(1) << 31), "quantize_rows_fp8: ", rows, " rows is too many");
  const cudaStream_t stream = use_cuda_device(x.device().index).stream();
  const auto* in = static_cast<const __nv_bfloat16*>(xc.raw_data());
  auto* codes = static_cast<uint8_t*>(q.values.raw_data());
  float* row_scales = q.scales.data<float>();
  if (K <= 32 * kWarpChunks * 8) {
    constexpr int kRowsPerCta = kRegisterThreads / 32;
    quantize_rows_in_registers<32, kWarpChunks>
        <<<unsigned((rows + kRowsPerCta - 1) / kRowsPerCta), kRegisterThreads, 0, stream>>>(
            in, rows, K, codes, row_scales);
  } else if (K <= kRegisterThreads * kBlockChunks * 8) {
    quantize_rows_in_registers<kRegisterThreads, kBlockChunks>
        <<<unsigned(rows), kRegisterThreads, 0, stream>>>(in, rows, K, codes, row_scales);
  } else {
    quantize_rows_kernel<<<unsigned(rows), kThreads, 0, stream>>>(in, K, codes, row_scales);
  }
  FV_CUDA_CHECK_LAUNCH();
  return q;
}

Tensor fp8_linear(const Fp8Rows& xq, DType /*out: BF16*/, const Fp8Rows& weight, const Tensor& bias,
                  bool gelu) {
  const Tensor& x = xq.values;
  const int64_t in = weight.values.size(1), out = weight.values.size(0);
  FV_CHECK(in % 16 == 0 && out % 16 == 0,
           "fp8_linear on a GPU takes in/out features that are multiples of 16; got input ",
           x.describe(), " and weight ", weight.values.describe());
  check_fp8_gpu(x.device());
  const int64_t rows = x.numel() / std::max<int64_t>(in, 1);
  Shape out_shape = x.shape();
  out_shape.back() = out;
  Tensor y = Tensor::empty(out_shape, DType::BF16, x.device());
  const cuda_detail::GemmRowScales scales{xq.scales.contiguous(), weight.scales.contiguous()};
  cuda_detail::cublaslt_gemm(
      y.reshape({rows, out}), x.contiguous().reshape({rows, in}), weight.values.contiguous(),
      /*transpose_b=*/true, bias.defined() ? bias.to(DType::BF16).contiguous() : Tensor(),
      gelu ? cuda_detail::GemmActivation::GeluTanh : cuda_detail::GemmActivation::None, &scales);
  return y;
}

}  // namespace fastvideo::ops::cuda
