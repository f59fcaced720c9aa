// SLA's memory-bound kernels (sla_kernels.h; the linear branch's query side is
// sla_linear_output.cu). Layouts: a token row of one head is D = 128 BF16,
// 256 contiguous bytes; rows of one head are H·D elements apart.
//  - block means: one CTA per (block, batch item); each thread owns 8 channels of one head (a
//    16-byte chunk of the token row) and sums them over the block's rows in sequence order, so a
//    mean is the CPU twin's sum, bit for bit, divided by the count.
//  - smooth-k centring: one CTA per (batch, head), 2 × 128 threads over (block parity, channel).
//  - feature maps: one warp per token row (lane l holds channels 4l .. 4l + 3, one 8-byte load);
//    the softmax map reduces over the row by shuffles. A CTA of 8 warps covers 128 consecutive
//    tokens of one (batch, head), so the key sums leave each CTA as one row of partial sums,
//    reduced in a fixed order by a second kernel (no atomics: the same bits every run).
#include "ops/cuda/sla_kernels.h"

#include <cuda_bf16.h>

#include <cmath>

#include "core/cuda/cuda_check.h"
#include "ops/cuda/bf16_vectors.cuh"
#include "ops/cuda/ptx_common.cuh"

namespace fastvideo::ops::cuda {

namespace {

constexpr int kDim = int(kSlaHeadDim);
constexpr int kDimChunks = kDim / 8;  // 16-byte chunks of a head's row
constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kRowsPerCta = 128;  // tokens per CTA of the feature-map kernels
static_assert(kDim == 4 * 32, "a warp holds one row, four channels per lane");
static_assert(kThreads % kDim == 0, "the centring kernel's threads cover whole rows");

__device__ __forceinline__ void unpack(const Bf16x4& in, float (&x)[4]) {
  const float2 a = __bfloat1622float2(in.v[0]), b = __bfloat1622float2(in.v[1]);
  x[0] = a.x;
  x[1] = a.y;
  x[2] = b.x;
  x[3] = b.y;
}

__device__ __forceinline__ Bf16x4 pack(const float (&x)[4]) {
  return {{__floats2bfloat162_rn(x[0], x[1]), __floats2bfloat162_rn(x[2], x[3])}};
}

// φ over one token row held by the warp (every lane calls it: the softmax map shuffles).
__device__ __forceinline__ void feature_map(float (&x)[4], SlaFeatureMap map) {
  switch (map) {
    case SlaFeatureMap::Softmax: {
      const float mx = warp_max(fmaxf(fmaxf(x[0], x[1]), fmaxf(x[2], x[3])));
      float sum = 0.f;
#pragma unroll
      for (int i = 0; i < 4; ++i) sum += (x[i] = expf(x[i] - mx));
      const float inv = 1.f / warp_sum(sum);
#pragma unroll
      for (int i = 0; i < 4; ++i) x[i] *= inv;
      return;
    }
    case SlaFeatureMap::EluPlusOne:
#pragma unroll
      for (int i = 0; i < 4; ++i) x[i] = x[i] > 0.f ? x[i] + 1.f : expf(x[i]);
      return;
    case SlaFeatureMap::Relu:
#pragma unroll
      for (int i = 0; i < 4; ++i) x[i] = fmaxf(x[i], 0.f);
      return;
  }
}

__global__ void block_means_kernel(const Bf16x8* x, int64_t tokens, int64_t heads, int64_t block,
                                   int64_t num_blocks, float4* means) {
  const int64_t blk = blockIdx.x, b = blockIdx.y;
  const int64_t row_chunks = heads * kDimChunks;
  const int64_t r0 = blk * block, r1 = min(tokens, r0 + block);
  const float count = float(r1 - r0);
  for (int64_t c = threadIdx.x; c < row_chunks; c += kThreads) {
    float sum[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    const Bf16x8* p = x + (b * tokens + r0) * row_chunks + c;
    for (int64_t r = r0; r < r1; ++r, p += row_chunks) {
      const Bf16x8 value = load(p);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float2 f = __bfloat1622float2(value.v[i]);
        sum[2 * i] += f.x;
        sum[2 * i + 1] += f.y;
      }
    }
    const int64_t h = c / kDimChunks, chunk = c % kDimChunks;
    float4* m = means + ((b * heads + h) * num_blocks + blk) * (kDim / 4) + 2 * chunk;
    m[0] = make_float4(sum[0] / count, sum[1] / count, sum[2] / count, sum[3] / count);
    m[1] = make_float4(sum[4] / count, sum[5] / count, sum[6] / count, sum[7] / count);
  }
}

__global__ void center_block_means_kernel(float* means, int64_t num_blocks, int64_t block,
                                          int64_t tokens) {
  constexpr int kGroups = kThreads / kDim;
  __shared__ double partial[kGroups][kDim];
  float* m = means + int64_t(blockIdx.x) * num_blocks * kDim;
  const int d = threadIdx.x % kDim, group = threadIdx.x / kDim;
  double sum = 0.0;  // the block sums, recovered as mean × count
  for (int64_t j = group; j < num_blocks; j += kGroups)
    sum += double(m[j * kDim + d]) * double(min(block, tokens - j * block));
  partial[group][d] = sum;
  __syncthreads();
  double total = 0.0;
#pragma unroll
  for (int g = 0; g < kGroups; ++g) total += partial[g][d];
  const float mean = float(total / double(tokens));
  for (int64_t j = group; j < num_blocks; j += kGroups) m[j * kDim + d] -= mean;
}

// One CTA per (batch·head, chunk of kRowsPerCta tokens), chunk fastest.
__global__ void key_features_kernel(const Bf16x4* k, int64_t tokens, int64_t heads, int64_t chunks,
                                    SlaFeatureMap map, Bf16x4* phi, float4* partial) {
  const int64_t bh = blockIdx.x / chunks, chunk = blockIdx.x % chunks;
  const int64_t b = bh / heads, h = bh % heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  for (int r = warp; r < kRowsPerCta; r += kWarps) {
    const int64_t s = chunk * kRowsPerCta + r;
    if (s >= tokens) break;  // uniform over the warp
    const int64_t at = ((b * tokens + s) * heads + h) * (kDim / 4) + lane;
    float x[4];
    unpack(load(k + at), x);
    feature_map(x, map);
    const Bf16x4 rounded = pack(x);
    store(phi + at, rounded);
    unpack(rounded, x);
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[i] += x[i];
  }
  __shared__ float4 sums[kWarps][32];
  sums[warp][lane] = make_float4(acc[0], acc[1], acc[2], acc[3]);
  __syncthreads();
  if (threadIdx.x < 32) {
    float4 total = sums[0][threadIdx.x];
    for (int w = 1; w < kWarps; ++w) {
      const float4 s = sums[w][threadIdx.x];
      total = make_float4(total.x + s.x, total.y + s.y, total.z + s.z, total.w + s.w);
    }
    partial[(bh * chunks + chunk) * (kDim / 4) + threadIdx.x] = total;
  }
}

// One thread per (batch·head, channel), chunks in order.
__global__ void key_sums_kernel(const float* partial, int64_t batch_heads, int64_t chunks,
                                float* ksum) {
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= batch_heads * kDim) return;
  const int64_t bh = i / kDim, d = i % kDim;
  const float* p = partial + bh * chunks * kDim + d;
  float sum = 0.f;
  for (int64_t c = 0; c < chunks; ++c) sum += p[c * kDim];
  ksum[i] = sum;
}

unsigned blocks_for(int64_t threads) { return unsigned((threads + kThreads - 1) / kThreads); }

int64_t feature_chunks(int64_t tokens) { return (tokens + kRowsPerCta - 1) / kRowsPerCta; }

}  // namespace

void sla_block_means(const void* x, int64_t batch, int64_t tokens, int64_t heads, int64_t block,
                     float* means, cudaStream_t stream) {
  check_chunk_aligned("SLA block means", 16, {x});
  const int64_t num_blocks = (tokens + block - 1) / block;
  const dim3 grid{unsigned(num_blocks), unsigned(batch)};
  block_means_kernel<<<grid, kThreads, 0, stream>>>(static_cast<const Bf16x8*>(x), tokens, heads,
                                                    block, num_blocks,
                                                    reinterpret_cast<float4*>(means));
  FV_CUDA_CHECK_LAUNCH();
}

void sla_center_block_means(float* means, int64_t batch_heads, int64_t num_blocks, int64_t block,
                            int64_t tokens, cudaStream_t stream) {
  center_block_means_kernel<<<unsigned(batch_heads), kThreads, 0, stream>>>(means, num_blocks,
                                                                            block, tokens);
  FV_CUDA_CHECK_LAUNCH();
}

int64_t sla_key_sum_chunks(int64_t tokens) { return feature_chunks(tokens); }

void sla_key_features(const void* k, int64_t batch, int64_t tokens, int64_t heads,
                      SlaFeatureMap map, void* phi_k, float* partial, float* ksum,
                      cudaStream_t stream) {
  check_chunk_aligned("SLA key features", 8, {k, phi_k});
  const int64_t chunks = feature_chunks(tokens), batch_heads = batch * heads;
  key_features_kernel<<<unsigned(batch_heads * chunks), kThreads, 0, stream>>>(
      static_cast<const Bf16x4*>(k), tokens, heads, chunks, map, static_cast<Bf16x4*>(phi_k),
      reinterpret_cast<float4*>(partial));
  FV_CUDA_CHECK_LAUNCH();
  key_sums_kernel<<<blocks_for(batch_heads * kDim), kThreads, 0, stream>>>(partial, batch_heads,
                                                                           chunks, ksum);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
