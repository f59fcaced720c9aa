// SLA's linear branch on its query side in one pass (sla_kernels.h, sla_linear_output): per 64
// token rows of one (batch, head), φ(q) and its normaliser in registers, the product with the
// folded state M on the tensor cores (mma.sync, so every sm_80+ GPU runs it), and proj_l's bias
// and the sparse branch's output added before the one rounding to BF16. cuBLASLt cannot take the
// feature map as a prologue, and apart these steps wrote φ(q) and the product to memory and read
// them back (about 2.3× this kernel's bytes).
//
// CTA: 4 warps, warp w on rows 16w .. 16w + 15. Shared memory holds the q rows, M[b, h] and the
// output rows, each row padded to 272 bytes so that ldmatrix's eight 16-byte rows fall in
// different banks.
#include <cuda_bf16.h>

#include "core/cuda/cuda_check.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/ampere_ptx.cuh"
#include "ops/cuda/bf16_vectors.cuh"
#include "ops/cuda/ptx_common.cuh"
#include "ops/cuda/sla_feature_map.cuh"
#include "ops/cuda/sla_kernels.h"

namespace fastvideo::ops::cuda {

namespace {

using ampere::cp_async_cg_16;
using ampere::cp_async_commit;
using ampere::cp_async_wait;
using ampere::ldmatrix_x4;
using ampere::ldmatrix_x4_trans;
using ampere::mma_m16n8k16_bf16;

constexpr int kDim = int(kSlaHeadDim);
constexpr int kRows = 64;               // token rows per CTA
constexpr int kThreads = 128;           // 4 warps of 16 rows
constexpr int kPitch = kDim + 8;        // bf16 elements per shared row (272 bytes)
constexpr int kChunks = kDim * 2 / 16;  // 16-byte chunks of a row
constexpr int kSteps = kDim / 16;       // k16 steps over the head dim
constexpr int kTiles = kDim / 8;        // n8 column tiles of the output
constexpr int kSmemBytes = (2 * kRows + kDim) * kPitch * 2;
static_assert(kRows == 16 * (kThreads / 32), "a warp holds 16 rows");
static_assert(kThreads == kDim, "a thread per channel loads ksum and the bias");

// `rows` rows of 256 bytes from global (row r at src + r·stride elements) into shared rows of
// kPitch, the rows from `valid` on zero-filled.
__device__ __forceinline__ void load_rows(__nv_bfloat16* dst, const __nv_bfloat16* src,
                                          int64_t stride, int rows, int valid) {
  for (int c = threadIdx.x; c < rows * kChunks; c += kThreads) {
    const int r = c / kChunks, part = c % kChunks;
    const bool in = r < valid;
    cp_async_cg_16(smem_u32(dst + r * kPitch + 8 * part), src + (in ? r * stride + 8 * part : 0),
                   in ? 16 : 0);
  }
}

// φ over the lane's 32 values of each of its two rows (the quads hold the rows; the rows' shuffles
// interleave), then each row divided by 1e-5 + φ·ksum.
__device__ __forceinline__ void normalised_features(float (&x)[2][32], const float (&ks)[32],
                                                    SlaFeatureMap map) {
  sla_feature_map(
      x, map, [](float m) { return quad_max(m); }, [](float t) { return quad_sum(t); });
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < 32; ++i) dot += x[r][i] * ks[i];
    inv[r] = dot;
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) inv[r] = 1.f / (1e-5f + quad_sum(inv[r]));
#pragma unroll
  for (int r = 0; r < 2; ++r)
#pragma unroll
    for (int i = 0; i < 32; ++i) x[r][i] *= inv[r];
}

// Grid (row blocks, H, B).
__global__ void __launch_bounds__(kThreads)
    linear_output_kernel(const __nv_bfloat16* q, const float* ksum, const __nv_bfloat16* m,
                         const float* bias, int tokens, int heads, SlaFeatureMap map,
                         __nv_bfloat16* out) {
  extern __shared__ __align__(16) __nv_bfloat16 smem[];
  __nv_bfloat16* q_rows = smem;
  __nv_bfloat16* m_rows = smem + kRows * kPitch;
  __nv_bfloat16* out_rows = smem + (kRows + kDim) * kPitch;
  __shared__ float ks_shared[kDim], bias_shared[kDim];
  const int s0 = blockIdx.x * kRows, h = blockIdx.y, b = blockIdx.z;
  const int valid = min(kRows, tokens - s0);
  const int64_t row_stride = int64_t(heads) * kDim;
  const int64_t first = ((int64_t(b) * tokens + s0) * heads + h) * kDim;
  const int64_t bh = int64_t(b) * heads + h;

  load_rows(q_rows, q + first, row_stride, kRows, valid);
  load_rows(m_rows, m + bh * kDim * kDim, kDim, kDim, kDim);
  cp_async_commit();
  load_rows(out_rows, out + first, row_stride, kRows, valid);
  cp_async_commit();
  ks_shared[threadIdx.x] = ksum[bh * kDim + threadIdx.x];
  bias_shared[threadIdx.x] = bias[threadIdx.x];
  cp_async_wait<1>();
  __syncthreads();

  // Lane l addresses row l % 8 (+ 8 for l / 8 odd) and column + 8 for l >= 16 of a 16x16 block:
  // ldmatrix_x4 then gives the A fragment, ldmatrix_x4_trans the B fragments of two n8 tiles.
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, t = lane % 4;
  const int lane_row = lane % 8 + 8 * ((lane / 8) % 2), lane_col = 8 * (lane / 16);
  // x[0]: row lane / 4, x[1]: row lane / 4 + 8; element 4·kk + p at column
  // 16·kk + 8·(p / 2) + 2t + p % 2.
  float x[2][32], ks[32];
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk) {
    uint32_t a[4];
    ldmatrix_x4(a, smem_u32(q_rows + (16 * warp + lane_row) * kPitch + 16 * kk + lane_col));
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&a[p]));
      const int row = p % 2, at = 4 * kk + 2 * (p / 2);
      x[row][at] = f.x;
      x[row][at + 1] = f.y;
      ks[4 * kk + 2 * (p / 2)] = ks_shared[16 * kk + 8 * (p / 2) + 2 * t];
      ks[4 * kk + 2 * (p / 2) + 1] = ks_shared[16 * kk + 8 * (p / 2) + 2 * t + 1];
    }
  }
  normalised_features(x, ks, map);
  uint32_t a[kSteps][4];
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const int row = p % 2, at = 4 * kk + 2 * (p / 2);
      a[kk][p] = pack_bf16x2(x[row][at], x[row][at + 1]);
    }

  float acc[kTiles][4] = {};
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
#pragma unroll
    for (int j = 0; j < kTiles; j += 2) {
      uint32_t bf[4];
      ldmatrix_x4_trans(bf, smem_u32(m_rows + (16 * kk + lane_row) * kPitch + 8 * j + lane_col));
      mma_m16n8k16_bf16(acc[j], a[kk], bf[0], bf[1]);
      mma_m16n8k16_bf16(acc[j + 1], a[kk], bf[2], bf[3]);
    }

  cp_async_wait<0>();
  __syncthreads();
#pragma unroll
  for (int j = 0; j < kTiles; ++j)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int row = 16 * warp + lane / 4 + 8 * half, col = accumulator_column(j, lane, 0);
      auto* slot = reinterpret_cast<__nv_bfloat162*>(out_rows + row * kPitch + col);
      const float2 o = __bfloat1622float2(*slot);
      *slot = __floats2bfloat162_rn(o.x + acc[j][2 * half] + bias_shared[col],
                                    o.y + acc[j][2 * half + 1] + bias_shared[col + 1]);
    }
  __syncthreads();
  for (int c = threadIdx.x; c < valid * kChunks; c += kThreads) {
    const int r = c / kChunks, part = c % kChunks;
    *reinterpret_cast<uint4*>(out + first + r * row_stride + 8 * part) =
        *reinterpret_cast<const uint4*>(out_rows + r * kPitch + 8 * part);
  }
}

}  // namespace

void sla_linear_output(const void* q, const float* ksum, const void* m, const float* bias,
                       int64_t batch, int64_t tokens, int64_t heads, SlaFeatureMap map, void* out,
                       cudaStream_t stream) {
  check_chunk_aligned("SLA linear branch", 16, {q, m, out});
  int device = 0;
  FV_CUDA_CHECK(cudaGetDevice(&device));  // the caller's, whose stream this is
  static PerDeviceOnce prepared;
  prepared(device, [] {
    FV_CUDA_CHECK(cudaFuncSetAttribute(linear_output_kernel,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
    // Three CTAs per SM on Hopper need the largest shared-memory carveout.
    FV_CUDA_CHECK(cudaFuncSetAttribute(linear_output_kernel,
                                       cudaFuncAttributePreferredSharedMemoryCarveout,
                                       int(cudaSharedmemCarveoutMaxShared)));
  });
  const dim3 grid(unsigned((tokens + kRows - 1) / kRows), unsigned(heads), unsigned(batch));
  linear_output_kernel<<<grid, kThreads, kSmemBytes, stream>>>(
      static_cast<const __nv_bfloat16*>(q), ksum, static_cast<const __nv_bfloat16*>(m), bias,
      int(tokens), int(heads), map, static_cast<__nv_bfloat16*>(out));
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
