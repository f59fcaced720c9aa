// SLA's linear branch on one warp's 16 query rows (sla_kernels.h, sla_linear_output): φ(q) and its
// normaliser in registers, then φ̃·M added on the tensor cores (mma.sync, any sm_80+) into the
// warp's accumulator. Shared by the linear branch's own kernel (sla_linear_output.cu) and SageSLA's
// block-list kernel, which adds it to its output rows before their one rounding to BF16
// (sage_sparse_attention_hopper.cu). Device code only.
//
// acc holds the warp's 16 rows x 128 columns in the m16n8 accumulator layout, which is also a
// wgmma m64 accumulator's slice for the warp: acc[4j + e] is n8 tile j, row lane / 4 (+ 8 for
// e >= 2), column 8j + 2(lane % 4) + e % 2.
#pragma once

#include <cuda_bf16.h>

#include "ops/cuda/ampere_ptx.cuh"
#include "ops/cuda/ptx_common.cuh"
#include "ops/cuda/sla_feature_map.cuh"

namespace fastvideo::ops::cuda {

// Shared rows of 128 bf16 are padded to 272 bytes, so that ldmatrix's eight 16-byte rows fall in
// different banks.
inline constexpr int kSlaRowPitch = 128 + 8;

// `rows` rows of 128 bf16 from global (row r at src + r·stride elements) into shared rows of
// kSlaRowPitch by cp.async, the rows from `valid` on zero-filled; the CTA's kThreads threads share
// the 16-byte chunks. The caller commits the group. Not unrolled: inside a kernel's main loop
// (SageSLA's block-list kernel) an unrolled copy had its addresses formed before the loop, where
// they spilled.
template <int kThreads>
__device__ __forceinline__ void sla_load_rows(__nv_bfloat16* dst, const __nv_bfloat16* src,
                                              int64_t stride, int rows, int valid) {
  constexpr int kChunks = 128 * 2 / 16;  // 16-byte chunks of a row
#pragma unroll 1
  for (int c = threadIdx.x; c < rows * kChunks; c += kThreads) {
    const int r = c / kChunks, part = c % kChunks;
    const bool in = r < valid;
    ampere::cp_async_cg_16(smem_u32(dst + r * kSlaRowPitch + 8 * part),
                           src + (in ? r * stride + 8 * part : 0), in ? 16 : 0);
  }
}

// acc += φ̃·M for the warp's rows: q_rows points at the warp's 16 rows of q and m_rows at M's 128
// rows (both bf16, pitch kSlaRowPitch), ksum at Σφ(k)'s 128 floats, all in shared memory;
// φ̃ = φ(q) / (1e-5 + φ(q)·Σφ(k)) rounded to BF16 (the GEMM operand it was).
__device__ __forceinline__ void sla_add_linear_rows(float (&acc)[64], const __nv_bfloat16* q_rows,
                                                    const __nv_bfloat16* m_rows, const float* ksum,
                                                    SlaFeatureMap map, int lane) {
  constexpr int kSteps = 8;  // k16 steps over the head dim
  // Lane l addresses row l % 8 (+ 8 for l / 8 odd) and column + 8 for l >= 16 of a 16x16 block:
  // ldmatrix_x4 then gives the A fragment, ldmatrix_x4_trans the B fragments of two n8 tiles.
  const int t = lane % 4;
  const int lane_row = lane % 8 + 8 * ((lane / 8) % 2), lane_col = 8 * (lane / 16);
  // x[0]: row lane / 4, x[1]: row lane / 4 + 8; element 4·kk + p at column
  // 16·kk + 8·(p / 2) + 2t + p % 2.
  float x[2][32];
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk) {
    uint32_t a[4];
    ampere::ldmatrix_x4(a, smem_u32(q_rows + lane_row * kSlaRowPitch + 16 * kk + lane_col));
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&a[p]));
      x[p % 2][4 * kk + 2 * (p / 2)] = f.x;
      x[p % 2][4 * kk + 2 * (p / 2) + 1] = f.y;
    }
  }
  // φ over the lane's 32 values of each of its two rows (the quads hold the rows; the rows'
  // shuffles interleave), then each row divided by 1e-5 + φ·ksum.
  sla_feature_map(
      x, map, [](float m) { return quad_max(m); }, [](float s) { return quad_sum(s); });
  float dot[2] = {0.f, 0.f};
#pragma unroll
  for (int i = 0; i < 32; ++i) {
    const float k = ksum[16 * (i / 4) + 8 * ((i % 4) / 2) + 2 * t + i % 2];
    dot[0] += x[0][i] * k;
    dot[1] += x[1][i] * k;
  }
  uint32_t a[kSteps][4];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float inv = 1.f / (1e-5f + quad_sum(dot[r]));
#pragma unroll
    for (int kk = 0; kk < kSteps; ++kk)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int at = 4 * kk + 2 * half;
        a[kk][r + 2 * half] = pack_bf16x2(x[r][at] * inv, x[r][at + 1] * inv);
      }
  }
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
#pragma unroll
    for (int j = 0; j < 16; j += 2) {
      uint32_t bf[4];
      ampere::ldmatrix_x4_trans(
          bf, smem_u32(m_rows + (16 * kk + lane_row) * kSlaRowPitch + 8 * j + lane_col));
      ampere::mma_m16n8k16_bf16(*reinterpret_cast<float(*)[4]>(&acc[4 * j]), a[kk], bf[0], bf[1]);
      ampere::mma_m16n8k16_bf16(*reinterpret_cast<float(*)[4]>(&acc[4 * j + 4]), a[kk], bf[2],
                                bf[3]);
    }
}

}  // namespace fastvideo::ops::cuda
