// SLA's linear branch on its query side in one pass (sla_kernels.h, sla_linear_output): per 64
// token rows of one (batch, head), φ(q) and its normaliser in registers, the product with the
// folded state M on the tensor cores (sla_linear_rows.cuh: mma.sync, any sm_80+), and proj_l's bias
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
#include "ops/cuda/sla_kernels.h"
#include "ops/cuda/sla_linear_rows.cuh"

namespace fastvideo::ops::cuda {

namespace {

using ampere::cp_async_commit;
using ampere::cp_async_wait;

constexpr int kDim = int(kSlaHeadDim);
constexpr int kRows = 64;               // token rows per CTA
constexpr int kThreads = 128;           // 4 warps of 16 rows
constexpr int kPitch = kSlaRowPitch;
constexpr int kChunks = kDim * 2 / 16;  // 16-byte chunks of a row
constexpr int kTiles = kDim / 8;        // n8 column tiles of the output
constexpr int kSmemBytes = (2 * kRows + kDim) * kPitch * 2;
static_assert(kRows == 16 * (kThreads / 32), "a warp holds 16 rows");
static_assert(kThreads == kDim, "a thread per channel loads ksum and the bias");

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

  sla_load_rows<kThreads>(q_rows, q + first, row_stride, kRows, valid);
  sla_load_rows<kThreads>(m_rows, m + bh * kDim * kDim, kDim, kDim, kDim);
  cp_async_commit();
  sla_load_rows<kThreads>(out_rows, out + first, row_stride, kRows, valid);
  cp_async_commit();
  ks_shared[threadIdx.x] = ksum[bh * kDim + threadIdx.x];
  bias_shared[threadIdx.x] = bias[threadIdx.x];
  cp_async_wait<1>();
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float acc[4 * kTiles] = {};
  sla_add_linear_rows(acc, q_rows + 16 * warp * kPitch, m_rows, ks_shared, map, lane);

  cp_async_wait<0>();
  __syncthreads();
#pragma unroll
  for (int j = 0; j < kTiles; ++j)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int row = 16 * warp + lane / 4 + 8 * half, col = accumulator_column(j, lane, 0);
      auto* slot = reinterpret_cast<__nv_bfloat162*>(out_rows + row * kPitch + col);
      const float2 o = __bfloat1622float2(*slot);
      *slot = __floats2bfloat162_rn(o.x + acc[4 * j + 2 * half] + bias_shared[col],
                                    o.y + acc[4 * j + 2 * half + 1] + bias_shared[col + 1]);
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
