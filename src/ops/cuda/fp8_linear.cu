// ops::cuda's FP8 linears (ops/fp8_linear.h): a warp or a CTA quantizes a row (its absolute
// maximum, then each element divided by the scale and rounded by the hardware's satfinite E4M3
// conversion, as the CPU twin rounds), a half-warp a 128-wide group, a CTA a 128×128 weight block;
// cuBLASLt's FP8 GEMM writes bf16: with both operands' row scales as outer vectors where it plans
// them, else with unit scales and the scales, bias and GELU applied by one kernel after it; with
// block scales on Hopper (cublaslt_gemm.h).
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <algorithm>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/cublaslt_gemm.h"
#include "ops/cuda/fp8_gelu_groups_hopper.h"
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

// The maximum of `amax` over a CTA of kThreads threads, every one calling: a warp shuffle, then
// (more than one warp) the warps' maxima through shared memory.
template <int kThreads>
__device__ __forceinline__ float cta_max(float amax) {
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  if constexpr (kThreads > 32) {
    __shared__ float warp_max[kThreads / 32];
    if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = amax;
    __syncthreads();
    amax = warp_max[0];
#pragma unroll
    for (int w = 1; w < kThreads / 32; ++w) amax = fmaxf(amax, warp_max[w]);
  }
  return amax;
}

// A row's, group's or block's scale from its largest magnitude: amax / 448, 1 when all zero.
__device__ __forceinline__ float e4m3_scale(float amax) {
  return amax > 0.f ? __fdiv_rn(amax, kE4m3Max) : 1.f;
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
  amax = cta_max<kRowThreads>(amax);  // a warp's row: its lanes only
  if (!live) return;
  const float s = e4m3_scale(amax);
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
  const float s = e4m3_scale(cta_max<kThreads>(amax));
  if (threadIdx.x == 0) scales[row] = s;
  uint2* out = reinterpret_cast<uint2*>(q + row * K);
  for (int c = threadIdx.x; c < chunks; c += kThreads) out[c] = quantize_chunk(in[c], s);
}

// A half-warp per 128-column group of a row: each lane's 8 values in one 16-byte load, the group's
// maximum by four shuffles within the half-warp. Rows from `rows` to `padded_rows` (the GEMM's
// padding) are written as zeros with scale 1. Scales group-major: scales[g * padded_rows + row].
constexpr int kGroupThreads = 256;
__global__ void __launch_bounds__(kGroupThreads)
    quantize_groups_kernel(const __nv_bfloat16* x, int64_t rows, int64_t padded_rows, int groups,
                           uint8_t* q, float* scales) {
  const int64_t half = (int64_t(blockIdx.x) * kGroupThreads + threadIdx.x) / 16;
  const int64_t row = half / groups;
  const int g = int(half % groups), lane = int(threadIdx.x % 16);
  if (row >= padded_rows) return;  // the whole half-warp: its shuffles name only its own lanes
  const unsigned mask = 0xffffu << (threadIdx.x & 16);
  const int64_t at = row * groups * 128 + g * 128;
  uint4 v = make_uint4(0, 0, 0, 0);
  if (row < rows) v = reinterpret_cast<const uint4*>(x + at)[lane];
  float amax = chunk_amax(v, 0.f);
  for (int o = 8; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(mask, amax, o));
  const float s = e4m3_scale(amax);
  if (lane == 0) scales[g * padded_rows + row] = s;
  reinterpret_cast<uint2*>(q + at)[lane] = quantize_chunk(v, s);
}

// A CTA per 128×128 block of a weight [out, in] (at load): its 2,048 chunks of 8 in registers,
// the block's maximum, then its codes; the scale at scales[block row * padded + block column].
constexpr int kBlockThreads = 256, kBlockChunksPerThread = 128 * 16 / kBlockThreads;
__global__ void __launch_bounds__(kBlockThreads)
    quantize_blocks_kernel(const __nv_bfloat16* w, int64_t in, int64_t padded, uint8_t* q,
                           float* scales) {
  const int64_t bo = blockIdx.y, bi = blockIdx.x;
  const int64_t origin = bo * 128 * in + bi * 128;
  uint4 v[kBlockChunksPerThread];
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < kBlockChunksPerThread; ++i) {
    const int c = int(threadIdx.x) + i * kBlockThreads;  // row c / 16, chunk c % 16
    v[i] = reinterpret_cast<const uint4*>(w + origin + (c / 16) * in)[c % 16];
    amax = chunk_amax(v[i], amax);
  }
  const float s = e4m3_scale(cta_max<kBlockThreads>(amax));
  if (threadIdx.x == 0) scales[bo * padded + bi] = s;
#pragma unroll
  for (int i = 0; i < kBlockChunksPerThread; ++i) {
    const int c = int(threadIdx.x) + i * kBlockThreads;
    reinterpret_cast<uint2*>(q + origin + (c / 16) * in)[c % 16] = quantize_chunk(v[i], s);
  }
}

// x's rows quantized in groups into `values` [padded_rows, K] and `scales` [K / 128, padded_rows].
void quantize_groups_into(const Tensor& x, int64_t padded_rows, const Tensor& values,
                          const Tensor& scales) {
  const int64_t K = x.size(-1), groups = K / 128;
  const int64_t threads = padded_rows * groups * 16;
  if (threads == 0) return;
  const int64_t rows = x.numel() / K;
  FV_CHECK((threads + kGroupThreads - 1) / kGroupThreads < (int64_t(1) << 31),
           "quantize_groups_fp8: ", rows, " rows of ", K, " are too many");
  const Tensor xc = x.contiguous();
  quantize_groups_kernel<<<unsigned((threads + kGroupThreads - 1) / kGroupThreads), kGroupThreads,
                           0, use_cuda_device(x.device().index).stream()>>>(
      static_cast<const __nv_bfloat16*>(xc.raw_data()), rows, padded_rows, int(groups),
      static_cast<uint8_t*>(values.raw_data()), scales.data<float>());
  FV_CUDA_CHECK_LAUNCH();
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
  const cuda_detail::GemmScales scales{xq.scales.contiguous(), weight.scales.contiguous()};
  cuda_detail::cublaslt_gemm(
      y.reshape({rows, out}), x.contiguous().reshape({rows, in}), weight.values.contiguous(),
      /*transpose_b=*/true, bias.defined() ? bias.to(DType::BF16).contiguous() : Tensor(),
      gelu ? cuda_detail::GemmActivation::GeluTanh : cuda_detail::GemmActivation::None, &scales);
  return y;
}

bool fp8_blocks_supported(const Device& device) {
  const CudaDeviceInfo& info = CudaContext::get(device.index).info();
  return info.major == 9 && info.minor == 0;
}

Fp8Groups quantize_groups_fp8(const Tensor& x) {
  const int64_t K = x.size(-1), rows = K == 0 ? 0 : x.numel() / K;
  Fp8Groups q{Tensor::empty(x.shape(), DType::F8E4M3, x.device()),
              Tensor::empty({K / 128, rows}, DType::F32, x.device())};
  quantize_groups_into(x, rows, q.values, q.scales);
  return q;
}

Fp8Blocks quantize_blocks_fp8(const Tensor& w) {
  const int64_t out = w.size(0), in = w.size(1), padded = fp8_block_scale_columns(in);
  Fp8Blocks q{Tensor::empty(w.shape(), DType::F8E4M3, w.device()),
              Tensor::zeros({out / 128, padded}, DType::F32, w.device())};
  if (out == 0 || in == 0) return q;
  const Tensor wc = w.contiguous();
  quantize_blocks_kernel<<<dim3(unsigned(in / 128), unsigned(out / 128)), kBlockThreads, 0,
                           use_cuda_device(w.device().index).stream()>>>(
      static_cast<const __nv_bfloat16*>(wc.raw_data()), in, padded,
      static_cast<uint8_t*>(q.values.raw_data()), q.scales.data<float>());
  FV_CUDA_CHECK_LAUNCH();
  return q;
}

namespace {

// Groups for `rows` rows of K columns, the rows padded to a multiple of 16 (zeros, scale 1) so the
// group scales' rows stay 16-byte aligned whatever the token count (the GEMM's padding outputs
// are sliced off).
Fp8Groups padded_groups(int64_t rows, int64_t K, const Device& device) {
  const int64_t padded = (rows + 15) / 16 * 16;
  return {Tensor::empty({padded, K}, DType::F8E4M3, device),
          Tensor::empty({K / 128, padded}, DType::F32, device)};
}

// act(xq · Wᵀ + b) on cuBLASLt's block-scaled FP8 GEMM, bias and GELU in its epilogue: the first
// `rows` of xq's padded rows.
Tensor block_scaled_gemm(const Fp8Groups& xq, int64_t rows, const Fp8Blocks& weight,
                         const Tensor& bias, bool gelu) {
  const int64_t padded = xq.values.size(0), out = weight.values.size(0);
  Tensor y = Tensor::empty({padded, out}, DType::BF16, xq.values.device());
  const cuda_detail::GemmScales block_scales{xq.scales.contiguous(), weight.scales.contiguous(),
                                             true};
  cuda_detail::cublaslt_gemm(
      y, xq.values.contiguous(), weight.values.contiguous(), /*transpose_b=*/true,
      bias.defined() ? bias.to(DType::BF16).contiguous() : Tensor(),
      gelu ? cuda_detail::GemmActivation::GeluTanh : cuda_detail::GemmActivation::None,
      &block_scales);
  return padded == rows ? y : y.slice(0, 0, rows);
}

}  // namespace

Tensor fp8_block_linear(const Fp8Groups& xq, int64_t rows, const Fp8Blocks& weight,
                        const Tensor& bias) {
  return block_scaled_gemm(xq, rows, weight, bias, /*gelu=*/false);
}

Tensor fp8_block_linear(const Tensor& x, const Fp8Blocks& weight, const Tensor& bias, bool gelu) {
  const int64_t in = weight.values.size(1), out = weight.values.size(0);
  const int64_t rows = in == 0 ? 0 : x.numel() / in;
  const Fp8Groups xq = padded_groups(rows, in, x.device());
  quantize_groups_into(x, xq.values.size(0), xq.values, xq.scales);
  Shape out_shape = x.shape();
  out_shape.back() = out;
  return block_scaled_gemm(xq, rows, weight, bias, gelu).reshape(out_shape);
}

Fp8Groups fp8_linear_gelu_groups(const Fp8Rows& x, const Fp8Rows& weight, const Tensor& bias) {
  const int64_t in = weight.values.size(1), out = weight.values.size(0);
  const int64_t rows = x.scales.numel();
  const Device device = x.values.device();
  check_fp8_gpu(device);
  const Fp8Groups q = padded_groups(rows, out, device);
  if (rows == 0) return q;
  const Tensor b = bias.defined() ? bias.to(DType::BF16).contiguous() : Tensor();
  if (hopper_fp8_gelu_groups_applies(device, in, out)) {
    hopper_fp8_gelu_groups({x.values.contiguous(), x.scales.contiguous()},
                           {weight.values.contiguous(), weight.scales.contiguous()}, b, q);
    return q;
  }
  const Tensor y = cuda::fp8_linear(x, DType::BF16, weight, b, /*gelu=*/true);
  quantize_groups_into(y.reshape({rows, out}), q.values.size(0), q.values, q.scales);
  return q;
}

}  // namespace fastvideo::ops::cuda
