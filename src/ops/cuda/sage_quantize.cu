// The kernels of ops/cuda/sage_kernels.h. Reductions are deterministic (partial sums in a fixed
// order, maxima by atomicMax on non-negative floats), so a call's bytes do not vary run to run.
// The pre-pass is memory-bound (it reads k and v twice, q once; k and v once where another pass
// gave their statistics, SageKvStats): every thread moves 16-byte vectors and keeps several in
// flight, so the passes run near the card's bandwidth.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <algorithm>
#include <type_traits>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/ampere_ptx.cuh"
#include "ops/cuda/memory_bound.cuh"
#include "ops/cuda/ptx_common.cuh"
#include "ops/cuda/sage_kernels.h"
#include "ops/sage_attention.h"

namespace fastvideo::ops::cuda {

namespace {

using cuda_kernels::load;

constexpr int kD = int(kSageHeadDim);
constexpr int kOctets = kD / 8;  // 16-byte vectors of bf16 per head row
constexpr int kStatRows = 128;   // token rows per statistics job
constexpr int kStatOctets = 64;  // channel octets of H·128 per statistics CTA
constexpr int kStatLanes = 4;    // threads per octet, each on every kStatLanes-th row
constexpr int kStatBatch = 4;    // rows each statistics thread loads before adding
constexpr int kMeanParts = 32;   // partial-sum lanes per channel in k_mean_kernel
constexpr int kThreads = 256;    // the quantization kernels' CTAs
static_assert(kStatOctets * kStatLanes == kThreads, "a statistics job is one CTA");

__device__ __forceinline__ float int8_scale(float amax) { return amax > 0.f ? amax / 127.f : 1.f; }

// A group's scale with its reciprocal: the quantizers below multiply by 1 / scale and divide only
// where the product could round differently from the IEEE f32 quotient x / scale the contract
// names. y = x · fl(1 / scale) is within 2^-23·|x / scale| of the quotient's exact value, and the
// IEEE quotient within half an ulp of it, so y and the quotient are less than 2.5 ulps (of the
// quotient's binade) apart: where y is farther than that from every rounding boundary, both round
// alike. Near a boundary (about 1e-4 of values), and for non-finite y, a vector is divided.
struct Divisor {
  float scale, inv;
  bool fast;  // inv is finite (scale is not tiny)
};

__device__ __forceinline__ Divisor divisor(float scale) {
  const float inv = __frcp_rn(scale);
  return {scale, inv, isfinite(inv)};
}

// Eight values to INT8 in one 8-byte store: round half to even of x / scale, clamped to ±127.
// |x| <= 127·scale in a group, so |y| < 128 and 2.5 ulps are below 2^-15; rounding on the FP32
// adder (y + 1.5·2^23 has unit steps) leaves y's distance to the integer it rounds to.
__device__ __forceinline__ void store_int8x8(int8_t* p, const float (&x)[8], const Divisor& d) {
  constexpr float kMagic = 12582912.f, kTie = 0.5f - 1.f / 16384;
  int n[8];
  bool near = !d.fast;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const float y = x[i] * d.inv, r = __fadd_rn(y, kMagic);
    n[i] = __float_as_int(r) - 0x4B400000;
    near |= !(fabsf(y) < 128.f) || fabsf(__fsub_rn(y, __fsub_rn(r, kMagic))) > kTie;
  }
  if (near) {
#pragma unroll
    for (int i = 0; i < 8; ++i) n[i] = __float2int_rn(__fdiv_rn(x[i], d.scale));
  }
  uint2 packed = {0, 0};
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const uint32_t byte = uint8_t(int8_t(max(-127, min(127, n[i]))));
    (i < 4 ? packed.x : packed.y) |= byte << (8 * (i % 4));
  }
  *reinterpret_cast<uint2*>(p) = packed;
}

// Four values to E4M3 (saturating, round to nearest even) of x / scale, the first in the lowest
// byte. Rounding boundaries are the midpoints between E4M3 values: in E4M3's normal range those
// whose f32 mantissa's low 20 bits are 0x80000, so y within 8 steps of one is near (5 steps cover
// 2.5 ulps even where y falls a binade below the quotient); below 2^-6 (E4M3's subnormals) every
// nonzero y is divided; |x| <= 448·scale, so y above 448 by more than a few steps is not finite.
__device__ __forceinline__ uint32_t e4m3x4(const float (&x)[4], const Divisor& d) {
  float y[4];
  bool near = !d.fast;
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    y[j] = x[j] * d.inv;
    const uint32_t a = __float_as_uint(y[j]) & 0x7FFFFFFFu;
    near |= a > 0x43E00010u || a - 1u < 0x3C7FFFFFu || (a & 0xFFFFFu) - 0x7FFF8u < 16u;
  }
  if (near) {
#pragma unroll
    for (int j = 0; j < 4; ++j) y[j] = __fdiv_rn(x[j], d.scale);
  }
  const uint32_t lo = __nv_cvt_float2_to_fp8x2(make_float2(y[0], y[1]), __NV_SATFINITE, __NV_E4M3);
  const uint32_t hi = __nv_cvt_float2_to_fp8x2(make_float2(y[2], y[3]), __NV_SATFINITE, __NV_E4M3);
  return lo | hi << 16;
}

// Eight bf16 held in a 16-byte register vector, as floats.
__device__ __forceinline__ void unpack_bf16x8(const uint4& raw, float (&x)[8]) {
  const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&words[i]));
    x[2 * i] = f.x, x[2 * i + 1] = f.y;
  }
}

// Per (chunk of kStatRows tokens, group of kStatOctets channel octets, batch item): the f32 sums
// of k over the chunk for each channel of the flattened H·128 (the partials of the token mean,
// k_partial [B, chunks, H·128]) and the max of |v| (into vmax, zeroed by the caller, [B, H, 128]).
// Thread x + kStatOctets·y takes octet x of its group and the chunk's rows y, y + kStatLanes, ...;
// the lanes' sums are then added in lane order, so the result does not depend on scheduling.
__device__ __forceinline__ void kv_stats(const __nv_bfloat16* k, const __nv_bfloat16* v, int S,
                                         int H, int chunk, int chunks, int group, int b,
                                         float* k_partial, unsigned* vmax) {
  const int x = threadIdx.x % kStatOctets, y = threadIdx.x / kStatOctets;
  const int octet = group * kStatOctets + x;
  const int HD = H * kD;
  const bool owned = octet < H * kOctets;
  const int begin = chunk * kStatRows, rows = min(S - begin, kStatRows);
  const int64_t at = (int64_t(b) * S + begin) * HD + 8 * octet;
  float sum[8] = {}, amax[8] = {};
  auto add = [&](const uint4& kr, const uint4& vr) {
    float kx[8], vx[8];
    unpack_bf16x8(kr, kx);
    unpack_bf16x8(vr, vx);
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      sum[i] += kx[i];
      amax[i] = fmaxf(amax[i], fabsf(vx[i]));
    }
  };
  auto row = [&](const __nv_bfloat16* p, int s) {
    return *reinterpret_cast<const uint4*>(p + at + int64_t(s) * HD);
  };
  if (owned) {
    int s = y;
    // kStatBatch rows of k and v in flight at a time, then the rest one by one.
    for (; s + (kStatBatch - 1) * kStatLanes < rows; s += kStatBatch * kStatLanes) {
      uint4 kr[kStatBatch], vr[kStatBatch];
#pragma unroll
      for (int j = 0; j < kStatBatch; ++j) {
        kr[j] = row(k, s + j * kStatLanes);
        vr[j] = row(v, s + j * kStatLanes);
      }
#pragma unroll
      for (int j = 0; j < kStatBatch; ++j) add(kr[j], vr[j]);
    }
    for (; s < rows; s += kStatLanes) add(row(k, s), row(v, s));
  }
  __shared__ float lane_sum[kStatLanes][8][kStatOctets], lane_max[kStatLanes][8][kStatOctets];
#pragma unroll
  for (int i = 0; i < 8; ++i) lane_sum[y][i][x] = sum[i], lane_max[y][i][x] = amax[i];
  __syncthreads();
  if (y != 0 || !owned) return;
  for (int l = 1; l < kStatLanes; ++l)
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      sum[i] += lane_sum[l][i][x];
      amax[i] = fmaxf(amax[i], lane_max[l][i][x]);
    }
  float* partial = k_partial + (int64_t(b) * chunks + chunk) * HD + 8 * octet;
  *reinterpret_cast<float4*>(partial) = make_float4(sum[0], sum[1], sum[2], sum[3]);
  *reinterpret_cast<float4*>(partial + 4) = make_float4(sum[4], sum[5], sum[6], sum[7]);
#pragma unroll
  for (int i = 0; i < 8; ++i)
    atomicMax(vmax + int64_t(b) * HD + 8 * octet + i, __float_as_uint(amax[i]));
}

// The token mean of k per (batch, channel of H·128): CTA per (32 channels, batch item); lane j of
// kMeanParts sums chunks j, j + kMeanParts, ... in double, then the parts are added in order and
// divided once.
__global__ void k_mean_kernel(const float* k_partial, int chunks, int S, int HD, float* mean) {
  const int c = blockIdx.x * 32 + threadIdx.x % 32, part = threadIdx.x / 32, b = blockIdx.y;
  __shared__ double parts[kMeanParts][32];
  double sum = 0.0;
  if (c < HD)
    for (int i = part; i < chunks; i += kMeanParts)
      sum += k_partial[(int64_t(b) * chunks + i) * HD + c];
  parts[part][threadIdx.x % 32] = sum;
  __syncthreads();
  if (part != 0 || c >= HD) return;
  for (int p = 1; p < kMeanParts; ++p) sum += parts[p][threadIdx.x];
  mean[int64_t(b) * HD + c] = float(sum / S);
}

// The block's mean of q per channel (its valid rows), for SageSLA's block map: each thread's four
// rows, then the other half-warp's, then the eight warps' in order.
// warp_sums is the CTA's shared [kThreads / 32][kD] floats.
__device__ __forceinline__ void q_block_mean(const float (&x)[4][8], int rows, float* mean,
                                             float (*warp_sums)[kD]) {
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  float sum[8];
#pragma unroll
  for (int c = 0; c < 8; ++c) {
    sum[c] = (x[0][c] + x[1][c]) + (x[2][c] + x[3][c]);
    sum[c] += __shfl_xor_sync(0xFFFFFFFFu, sum[c], 16);
    if (lane < 16) warp_sums[w][8 * lane + c] = sum[c];
  }
  __syncthreads();
  if (threadIdx.x >= kD) return;
  float total = 0.f;
#pragma unroll
  for (int i = 0; i < kThreads / 32; ++i) total += warp_sums[i][threadIdx.x];
  mean[threadIdx.x] = total / float(rows);
}

// Q in Query groups, one (64-row block, head, batch item) a CTA at a time. Group g = 8·slab + w of
// the block is rows 16·slab + w and + 8 (one scale); warp w takes groups w, 8 + w, 16 + w, 24 + w,
// lane l row + 8·(l / 16) of each, channels 8·(l % 16) .. + 7 (q_row). x holds those rows (zero
// past S). With `means` (SageSLA), also the block's mean of q, [B, H, blocks, 128].
__device__ __forceinline__ int q_row(int block, int slab) {
  return 64 * block + 16 * slab + threadIdx.x / 32 + 8 * (threadIdx.x % 32 / 16);
}

__device__ __forceinline__ void quantize_q_rows(float (&x)[4][8], int S, int H, float multiplier,
                                                int block, int h, int b, int8_t* out, float* scales,
                                                int scale_count, float* means,
                                                float (*warp_sums)[kD]) {
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (means) {
    const int blocks = (S + 63) / 64;
    q_block_mean(x, min(64, S - 64 * block), means + ((int64_t(b) * H + h) * blocks + block) * kD,
                 warp_sums);
  }
  int rows[4];
#pragma unroll
  for (int slab = 0; slab < 4; ++slab) rows[slab] = q_row(block, slab);
#pragma unroll
  for (int slab = 0; slab < 4; ++slab) {
    float amax = 0.f;
#pragma unroll
    for (float& e : x[slab]) {
      e *= multiplier;
      amax = fmaxf(amax, fabsf(e));
    }
    const float scale = int8_scale(warp_max(amax));
    if (rows[slab] < S)
      store_int8x8(out + ((int64_t(b) * S + rows[slab]) * H + h) * kD + 8 * (lane % 16), x[slab],
                   divisor(scale));
    if (lane == 0) scales[(int64_t(b) * H + h) * scale_count + 32 * block + 8 * slab + w] = scale;
  }
}

// One job's rows loaded straight into registers (pass 1 beside the statistics), all four loads
// issued first.
__device__ __forceinline__ void quantize_q(const __nv_bfloat16* q, int S, int H, float multiplier,
                                           int block, int h, int b, int8_t* out, float* scales,
                                           int scale_count, float* means) {
  __shared__ float warp_sums[kThreads / 32][kD];
  float x[4][8] = {};
#pragma unroll
  for (int slab = 0; slab < 4; ++slab) {
    const int row = q_row(block, slab);
    if (row < S)
      load<8>(q + ((int64_t(b) * S + row) * H + h) * kD + 8 * (threadIdx.x % 16), x[slab]);
  }
  quantize_q_rows(x, S, H, multiplier, block, h, b, out, scales, scale_count, means, warp_sums);
}

// Smoothed K in Key groups: CTA per (128-key block, head, batch item). Group g (one scale) is the
// 32 keys 8j + 2g + {0, 1}; warps 2g and 2g + 1 take j < 8 and j >= 8, lane l the keys with
// e = l / 16, channels 8·(l % 16) .. + 7. The eight rows stay in registers as bf16 between the
// maximum and the quantization. With `block_means` (SageSLA), also the block's smooth-k mean,
// [B, H, blocks, 128]: k's sum over the block (a statistics chunk) less k's token mean.
__device__ __forceinline__ void quantize_k(const __nv_bfloat16* k, const float* mean, int S, int H,
                                           int block, int h, int b, int8_t* out, float* scales,
                                           int scale_count, const float* k_partial,
                                           float* block_means) {
  const int w = threadIdx.x / 32, lane = threadIdx.x % 32, g = w / 2;
  if (block_means && threadIdx.x < kD) {
    const int blocks = (S + kStatRows - 1) / kStatRows;
    const int64_t c = int64_t(h) * kD + threadIdx.x, HD = int64_t(H) * kD;
    const float count = float(min(kStatRows, S - block * kStatRows));
    block_means[((int64_t(b) * H + h) * blocks + block) * kD + threadIdx.x] =
        k_partial[(int64_t(b) * blocks + block) * HD + c] / count - mean[b * HD + c];
  }
  const int c0 = 8 * (lane % 16);
  float mu[8];
  load<8>(mean + (int64_t(b) * H + h) * kD + c0, mu);
  uint4 raw[8];
  int keys[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    keys[i] = 128 * block + 8 * (8 * (w % 2) + i) + 2 * g + lane / 16;
    raw[i] =
        keys[i] < S
            ? *reinterpret_cast<const uint4*>(k + ((int64_t(b) * S + keys[i]) * H + h) * kD + c0)
            : make_uint4(0, 0, 0, 0);
  }
  auto smoothed = [&](int i, float(&x)[8]) {
    unpack_bf16x8(raw[i], x);
#pragma unroll
    for (int c = 0; c < 8; ++c) x[c] -= mu[c];
  };
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    if (keys[i] >= S) continue;
    float x[8];
    smoothed(i, x);
    for (float e : x) amax = fmaxf(amax, fabsf(e));
  }
  __shared__ float warp_amax[kThreads / 32];
  amax = warp_max(amax);
  if (lane == 0) warp_amax[w] = amax;
  __syncthreads();
  const float scale = int8_scale(fmaxf(warp_amax[2 * g], warp_amax[2 * g + 1]));
  const Divisor d = divisor(scale);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    if (keys[i] >= S) continue;
    float x[8];
    smoothed(i, x);
    store_int8x8(out + ((int64_t(b) * S + keys[i]) * H + h) * kD + c0, x, d);
  }
  if (w % 2 == 0 && lane == 0) scales[(int64_t(b) * H + h) * scale_count + 4 * block + g] = scale;
}

// V to E4M3 and transposed: CTA per (64 keys, head, batch item). Thread (quad, octet) takes 4 keys
// and channels 8·octet .. + 7 and writes the 4 slots 4·quad .. + 3 of those 8 channels' rows of a
// [channel][slot] shared tile, which then goes out as rows of 64 keys of Vᵀ. E4m3Slots: bytes,
// slots in sage_v_slot order (slots 4s .. 4s + 3 of each 16 hold keys 2s, 2s + 1, 2s + 8, 2s + 9);
// F16Keys: f16 values of v / scale (the FP16 recipe's: an IEEE division, then round to nearest
// even), keys in order. Padding keys (>= S) are zero.
// Also writes v_scales.
template <SageVLayout kLayout>
__device__ __forceinline__ void quantize_v(const __nv_bfloat16* v, const unsigned* vmax, int S,
                                           int H, int S_pad, int chunk, int h, int b, void* out,
                                           float* v_scales) {
  constexpr bool kF16 = kLayout == SageVLayout::F16Keys;
  using Element = std::conditional_t<kF16, uint16_t, uint8_t>;  // f16 bits or E4M3 bits
  constexpr int kRow = 64 + 16 / int(sizeof(Element));          // a tile row, padded 16 bytes
  constexpr int kPartKeys = 16 / int(sizeof(Element));          // keys per 16-byte part of a row
  const int quad = threadIdx.x % 16, octet = threadIdx.x / 16;
  __shared__ float scale[kD];
  __shared__ __align__(16) Element tile[kD][kRow];
  const int64_t bh = int64_t(b) * H + h;
  if (threadIdx.x < kD) {
    const float m = __uint_as_float(vmax[bh * kD + threadIdx.x]);
    scale[threadIdx.x] = m > 0.f ? m / 448.f : 1.f;
    if (chunk == 0) v_scales[bh * kD + threadIdx.x] = scale[threadIdx.x];
  }
  float x[4][8] = {};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const int in_16 = kF16 ? 4 * (quad % 4) + j : 2 * (quad % 4) + (j % 2) + 8 * (j / 2);
    const int key = 64 * chunk + 16 * (quad / 4) + in_16;
    if (key < S) load<8>(v + ((int64_t(b) * S + key) * H + h) * kD + 8 * octet, x[j]);
  }
  __syncthreads();
#pragma unroll
  for (int c = 0; c < 8; ++c) {
    float xc[4] = {x[0][c], x[1][c], x[2][c], x[3][c]};
    Element e[4];
    if constexpr (kF16) {
#pragma unroll
      for (int j = 0; j < 4; ++j)
        e[j] = __half_as_ushort(__float2half_rn(__fdiv_rn(xc[j], scale[8 * octet + c])));
    } else {
      const uint32_t bytes = e4m3x4(xc, divisor(scale[8 * octet + c]));
#pragma unroll
      for (int j = 0; j < 4; ++j) e[j] = uint8_t(bytes >> (8 * j));
    }
    Element* slot = &tile[8 * octet + c][4 * quad];
    if constexpr (kF16)
      *reinterpret_cast<uint2*>(slot) =
          make_uint2(e[0] | uint32_t(e[1]) << 16, e[2] | uint32_t(e[3]) << 16);
    else
      *reinterpret_cast<uint32_t*>(slot) =
          e[0] | uint32_t(e[1]) << 8 | uint32_t(e[2]) << 16 | uint32_t(e[3]) << 24;
  }
  __syncthreads();
  Element* rows = static_cast<Element*>(out);
  for (int idx = threadIdx.x; idx < kD * (64 / kPartKeys); idx += blockDim.x) {
    const int c = idx / (64 / kPartKeys), key = kPartKeys * (idx % (64 / kPartKeys));
    *reinterpret_cast<uint4*>(rows + (bh * kD + c) * S_pad + 64 * chunk + key) =
        *reinterpret_cast<const uint4*>(&tile[c][key]);
  }
}

// The pre-pass's two passes, each one launch of kThreads-thread CTAs that mixes two jobs, so
// neither job's start and tail leaves the memory system idle and a compute-heavy CTA shares its SM
// with a memory-heavy one. Pass 1 (needs nothing): grid (stats CTAs + Q CTAs, B), the statistics
// first; where the caller gave the statistics, quantize_q_kernel below is pass 1 (pass 2 taking
// Q's CTAs was measured no faster: docs/perf.md, session 56). Pass 2 (needs k's mean and max|v|):
// grid (3 per 128-key block, H, B), each block's K CTA beside its two 64-key V CTAs.
__global__ void __launch_bounds__(kThreads)
    stats_and_q_kernel(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                       int Sq, int Sk, int H, float multiplier, int chunks, int groups,
                       float* k_partial, unsigned* vmax, int8_t* q_out, float* q_scales,
                       int q_scale_count, float* q_means) {
  const int i = blockIdx.x, b = blockIdx.y, stats = chunks * groups;
  if (i < stats)
    kv_stats(k, v, Sk, H, i / groups, chunks, i % groups, b, k_partial, vmax);
  else
    quantize_q(q, Sq, H, multiplier, (i - stats) / H, (i - stats) % H, b, q_out, q_scales,
               q_scale_count, q_means);
}

template <SageVLayout kLayout>
__global__ void __launch_bounds__(kThreads, 4)
    quantize_kv_kernel(const __nv_bfloat16* k, const __nv_bfloat16* v, const float* mean,
                       const unsigned* vmax, int S, int H, int S_pad, int8_t* k_out,
                       float* k_scales, int k_scale_count, void* v_out, float* v_scales,
                       const float* k_partial, float* k_block_means) {
  const int block = blockIdx.x / 3, part = blockIdx.x % 3, h = blockIdx.y, b = blockIdx.z;
  if (part == 0)
    quantize_k(k, mean, S, H, block, h, b, k_out, k_scales, k_scale_count, k_partial,
               k_block_means);
  else
    quantize_v<kLayout>(v, vmax, S, H, S_pad, 2 * block + part - 1, h, b, v_out, v_scales);
}

// Q alone, where the caller gave the statistics (SageSLA): kQCtasPerSm CTAs an SM loop over the
// (64-row block, head, batch item) jobs in pass 1's order, and each thread streams its own rows
// through a cp.async ring kQDepth jobs deep, so no barrier guards the ring and an SM keeps about
// 144 KiB of q in flight. As one-job CTAs (pass 1 without statistics jobs) Q ran at 1.6 TB/s
// (docs/perf.md, session 56). The same rows, order of sums and bytes as quantize_q.
constexpr int kQDepth = 4;
constexpr int kQCtasPerSm = 3;
constexpr int kQRingBytes = kQDepth * 4 * kThreads * 16;
constexpr int kQSmemBytes = kQRingBytes + 2 * (kThreads / 32) * kD * 4;  // + two warp_sums

__global__ void __launch_bounds__(kThreads, kQCtasPerSm)
    quantize_q_kernel(const __nv_bfloat16* q, int B, int S, int H, float multiplier, int8_t* out,
                      float* scales, int scale_count, float* means) {
  extern __shared__ __align__(16) uint4 q_smem[];
  uint4* ring = q_smem;  // [kQDepth][4 slabs][kThreads]
  auto* warp_sums = reinterpret_cast<float(*)[kThreads / 32][kD]>(ring + kQDepth * 4 * kThreads);
  const int blocks = (S + 63) / 64, jobs = B * blocks * H;
  const int channel = 8 * (threadIdx.x % 16);
  // The CTA's n-th job's rows into ring stage n % kQDepth (nothing past the last job; the empty
  // group keeps the wait count uniform).
  auto fetch = [&](int n) {
    const int job = blockIdx.x + n * gridDim.x;
    if (job < jobs) {
      const int h = job % H, block = job / H % blocks, b = job / H / blocks;
#pragma unroll
      for (int slab = 0; slab < 4; ++slab) {
        const int row = q_row(block, slab);
        const bool in = row < S;
        ampere::cp_async_cg_16(smem_u32(ring + (n % kQDepth * 4 + slab) * kThreads + threadIdx.x),
                               q + (in ? ((int64_t(b) * S + row) * H + h) * kD + channel : 0),
                               in ? 16 : 0);
      }
    }
    ampere::cp_async_commit();
  };
  for (int n = 0; n < kQDepth - 1; ++n) fetch(n);
  for (int n = 0; blockIdx.x + n * gridDim.x < jobs; ++n) {
    // Job n + kQDepth - 1 goes into the stage this thread read for job n - 1 (the last stage
    // for n = 0, not yet used).
    fetch(n + kQDepth - 1);
    ampere::cp_async_wait<kQDepth - 1>();
    const int job = blockIdx.x + n * gridDim.x;
    const int h = job % H, block = job / H % blocks, b = job / H / blocks;
    float x[4][8];
#pragma unroll
    for (int slab = 0; slab < 4; ++slab)
      unpack_bf16x8(ring[(n % kQDepth * 4 + slab) * kThreads + threadIdx.x], x[slab]);
    // Two warp_sums alternate, so one barrier a job keeps a job's sums from the next's.
    quantize_q_rows(x, S, H, multiplier, block, h, b, out, scales, scale_count, means,
                    warp_sums[n % 2]);
  }
}

}  // namespace

SageKvStats sage_kv_stats_buffers(int64_t batch, int64_t keys, int64_t heads, Device device) {
  const int64_t chunks = (keys + kStatRows - 1) / kStatRows;
  return {Tensor::empty({batch, chunks, heads * kD}, DType::F32, device),
          Tensor::zeros({batch, heads, kD}, DType::F32, device)};
}

SageDeviceInputs sage_quantize(const Tensor& q, const Tensor& k, const Tensor& v,
                               float q_multiplier, SageVLayout v_layout,
                               SageBlockMeans* block_means, const SageKvStats* kv_stats) {
  const Device device = q.device();
  CudaContext& ctx = CudaContext::get(device.index);
  cudaStream_t stream = ctx.stream();
  for (const Tensor* t : {&q, &k, &v}) {
    FV_CHECK(cuda_kernels::aligned16(t->raw_data()),
             "SAGE_ATTN's quantization reads 16-byte vectors; ", t->describe(),
             " does not start 16-byte aligned");
  }
  const int B = int(q.size(0)), Sq = int(q.size(1)), H = int(q.size(2)), Sk = int(k.size(1));
  const int HD = H * kD;
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
  if (kv_stats) {
    for (const Tensor* t : {&kv_stats->k_sums, &kv_stats->v_absmax}) {
      FV_CHECK(t->dtype() == DType::F32 && t->device() == device && t->is_contiguous(),
               "SAGE_ATTN: the given k and v statistics must be contiguous F32 on ", device.name(),
               ", got ", t->describe());
    }
    FV_CHECK(kv_stats->k_sums.shape() == Shape({B, chunks, HD}) &&
                 kv_stats->v_absmax.shape() == Shape({B, H, kD}),
             "SAGE_ATTN: the given k and v statistics are ", kv_stats->k_sums.describe(), " and ",
             kv_stats->v_absmax.describe(), ", expected [", B, ", ", chunks, ", ", HD, "] and [", B,
             ", ", H, ", ", kD, "]");
  }
  const SageKvStats stats = kv_stats ? *kv_stats : sage_kv_stats_buffers(B, Sk, H, device);
  const Tensor& k_partial = stats.k_sums;
  const Tensor& vmax = stats.v_absmax;
  const Tensor k_mean = Tensor::empty({B, H, kD}, DType::F32, device);
  const auto* qd = q.data<__nv_bfloat16>();
  const auto* kd = k.data<__nv_bfloat16>();
  const auto* vd = v.data<__nv_bfloat16>();
  const int groups = (H * kOctets + kStatOctets - 1) / kStatOctets;
  // Every 64-row block whole, so empty groups get their scale 1 as on the CPU.
  const int q_blocks = (Sq + 63) / 64;
  if (block_means) {
    block_means->q = Tensor::empty({B, H, q_blocks, kD}, DType::F32, device);
    block_means->k = Tensor::empty({B, H, chunks, kD}, DType::F32, device);
  }
  float* q_means = block_means ? block_means->q.data<float>() : nullptr;
  auto* q_out = static_cast<int8_t*>(r.q_int8.raw_data());
  if (kv_stats) {
    // The CTAs that fit the device at once: kQCtasPerSm on Hopper, fewer where an SM has less
    // shared memory (registers allow kQCtasPerSm on every sm_80+: __launch_bounds__). Each CTA
    // also takes 1 KiB of the system's.
    const int per_sm =
        std::min<int>(kQCtasPerSm, ctx.info().shared_memory_per_sm / (kQSmemBytes + 1024));
    FV_CHECK(per_sm >= 1 && size_t(kQSmemBytes) <= ctx.info().shared_memory_per_block_optin,
             "SAGE_ATTN: ", ctx.info().name, " cannot hold a ", kQSmemBytes,
             "-byte CTA of the q quantization kernel");
    static PerDeviceOnce prepared;
    prepared(device.index, [] {
      FV_CUDA_CHECK(cudaFuncSetAttribute(quantize_q_kernel,
                                         cudaFuncAttributeMaxDynamicSharedMemorySize, kQSmemBytes));
      FV_CUDA_CHECK(cudaFuncSetAttribute(quantize_q_kernel,
                                         cudaFuncAttributePreferredSharedMemoryCarveout,
                                         int(cudaSharedmemCarveoutMaxShared)));
    });
    const int jobs = B * q_blocks * H;
    const int grid = std::min(jobs, per_sm * ctx.info().sm_count);
    quantize_q_kernel<<<grid, kThreads, kQSmemBytes, stream>>>(
        qd, B, Sq, H, q_multiplier, q_out, r.q_scales.data<float>(), q_scale_count, q_means);
  } else {
    stats_and_q_kernel<<<dim3(chunks * groups + q_blocks * H, B), kThreads, 0, stream>>>(
        qd, kd, vd, Sq, Sk, H, q_multiplier, chunks, groups, k_partial.data<float>(),
        static_cast<unsigned*>(vmax.raw_data()), q_out, r.q_scales.data<float>(), q_scale_count,
        q_means);
  }
  FV_CUDA_CHECK_LAUNCH();
  k_mean_kernel<<<dim3((HD + 31) / 32, B), 32 * kMeanParts, 0, stream>>>(
      k_partial.data<float>(), chunks, Sk, HD, k_mean.data<float>());
  FV_CUDA_CHECK_LAUNCH();
  const auto quantize_kv = v_layout == SageVLayout::F16Keys
                               ? quantize_kv_kernel<SageVLayout::F16Keys>
                               : quantize_kv_kernel<SageVLayout::E4m3Slots>;
  quantize_kv<<<dim3(3 * (S_pad / 128), H, B), kThreads, 0, stream>>>(
      kd, vd, k_mean.data<float>(), static_cast<const unsigned*>(vmax.raw_data()), Sk, H, S_pad,
      static_cast<int8_t*>(r.k_int8.raw_data()), r.k_scales.data<float>(), k_scale_count,
      vt.raw_data(), r.v_scales.data<float>(), k_partial.data<float>(),
      block_means ? block_means->k.data<float>() : nullptr);
  FV_CUDA_CHECK_LAUNCH();
  return r;
}

}  // namespace fastvideo::ops::cuda
