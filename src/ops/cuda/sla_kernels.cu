// SLA's block-map pooling kernels (sla_kernels.h; the linear branch's are sla_key_state.cu and
// sla_linear_output.cu). Layouts: a token row of one head is D = 128 BF16, 256 contiguous bytes;
// rows of one head are H·D elements apart.
//  - block means: one CTA per (block, batch item); each thread owns 8 channels of one head (a
//    16-byte chunk of the token row) and sums them over the block's rows in sequence order, so a
//    mean is the CPU twin's sum, bit for bit, divided by the count.
//  - smooth-k centring: one CTA per (batch, head), 8 × 128 threads over (block mod 8, channel).
#include <cuda_bf16.h>

#include <cmath>

#include "core/cuda/cuda_check.h"
#include "ops/cuda/bf16_vectors.cuh"
#include "ops/cuda/ptx_common.cuh"
#include "ops/cuda/sla_kernels.h"

namespace fastvideo::ops::cuda {

namespace {

constexpr int kDim = int(kSlaHeadDim);
constexpr int kDimChunks = kDim / 8;  // 16-byte chunks of a head's row
constexpr int kThreads = 256;         // the block means' CTAs
constexpr int kCenterThreads = 1024;  // the centring's CTAs: eight threads a channel
static_assert(kCenterThreads % kDim == 0, "the centring kernel's threads cover whole rows");

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

// One CTA per (batch, head), 1,024 threads, eight to a channel: group g sums blocks g, g + 8, ...
// in that order with eight loads in flight, and the groups are added in order, so the sum is the
// same every run. Few CTAs (12 at the 1.3B shape), so it is latency-bound: the loads in flight are
// what keeps it short (docs/perf.md, session 55).
__global__ void __launch_bounds__(kCenterThreads)
    center_block_means_kernel(float* means, int64_t num_blocks, int64_t block, int64_t tokens) {
  constexpr int kGroups = kCenterThreads / kDim;
  constexpr int kBatch = 8;  // loads in flight per thread
  __shared__ double partial[kGroups][kDim];
  float* m = means + int64_t(blockIdx.x) * num_blocks * kDim;
  const int d = threadIdx.x % kDim, group = threadIdx.x / kDim;
  double sum = 0.0;  // the block sums, recovered as mean × count
  for (int64_t j0 = group; j0 < num_blocks; j0 += kGroups * kBatch) {
    float value[kBatch];
#pragma unroll
    for (int i = 0; i < kBatch; ++i) {
      const int64_t j = j0 + int64_t(i) * kGroups;
      value[i] = j < num_blocks ? m[j * kDim + d] : 0.f;
    }
#pragma unroll
    for (int i = 0; i < kBatch; ++i) {
      const int64_t j = j0 + int64_t(i) * kGroups;
      if (j < num_blocks) sum += double(value[i]) * double(min(block, tokens - j * block));
    }
  }
  partial[group][d] = sum;
  __syncthreads();
  double total = 0.0;
#pragma unroll
  for (int g = 0; g < kGroups; ++g) total += partial[g][d];
  const float mean = float(total / double(tokens));
#pragma unroll 4
  for (int64_t j = group; j < num_blocks; j += kGroups) m[j * kDim + d] -= mean;
}

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
  center_block_means_kernel<<<unsigned(batch_heads), kCenterThreads, 0, stream>>>(means, num_blocks,
                                                                                  block, tokens);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
