// What the two Hopper attention kernels share (dense FLASH_ATTN in flash_attention_hopper.cu, the
// block-sparse VSA fine stage in block_sparse_attention_hopper.cu): the consumer warps' online
// softmax over wgmma accumulators, P as the next wgmma's register operand, the O rescale, the
// barrier release, and the TMA maps over [B, S, H, 128] tensors.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda/cuda_check.h"
#include "core/tensor.h"
#include "ops/cuda/hopper_ptx.cuh"
#include "ops/cuda/ptx_common.cuh"
#include "ops/cuda/tensor_map.h"

namespace fastvideo::ops::cuda::hopper {

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

// One consumer warp's lane 0 arrives for its warp (the empty barriers count 8 warps).
__device__ __forceinline__ void release(uint32_t bar, int lane) {
  __syncwarp();
  if (lane == 0) mbarrier_arrive(bar);
}

// Online softmax over one S tile in the accumulator layout (this thread: rows r and r + 8, n8
// column blocks i; ptx_common.cuh). Leaves p = exp2((s - m)·scale·log2e) in s, m being the
// running exponent base (raw scores), and accumulates the partial sums l. Returns true when the
// base moved for some row of the warp; corr then holds the factors O must be scaled by.
// kMask: keys whose column fails valid(column) are masked (outside the sequence or the tile).
template <bool kMask, int kRegs, class Valid>
__device__ __forceinline__ bool online_softmax_where(float (&s)[kRegs], float (&m)[2],
                                                     float (&l)[2], float (&corr)[2],
                                                     float scale_log2, int lane, Valid&& valid) {
  constexpr int kBlocks = kRegs / 4;  // n8 column blocks
  if constexpr (kMask) {
#pragma unroll
    for (int i = 0; i < kBlocks; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (!valid(accumulator_column(i, lane, e))) s[4 * i + e] = -INFINITY;
  }
  float mx[2];
  bool grows = false;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    mx[r] = row_max<kBlocks>([&](int i, int j) -> float& { return s[4 * i + 2 * r + j]; }, m[r]);
    grows |= outgrows_base(mx[r], m[r], scale_log2);
  }
  const bool rebase = __any_sync(0xffffffff, grows);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    softmax_row_step<kBlocks>([&](int i, int j) -> float& { return s[4 * i + 2 * r + j]; }, mx[r],
                              rebase, scale_log2, m[r], l[r], corr[r]);
  }
  return rebase;
}

// As above with the keys at column >= valid_keys masked (TMA zero-filled them).
template <bool kMask, int kRegs>
__device__ __forceinline__ bool online_softmax(float (&s)[kRegs], float (&m)[2], float (&l)[2],
                                               float (&corr)[2], float scale_log2, int lane,
                                               int valid_keys) {
  return online_softmax_where<kMask>(s, m, l, corr, scale_log2, lane,
                                     [=](int column) { return column < valid_keys; });
}

// The accumulator layout of two adjacent n8 blocks is the A-operand layout of one k16 step
// (PTX ISA wgmma register fragments), so P needs no shuffles: just bf16 packing.
template <int kSteps>
__device__ __forceinline__ void scores_to_operand(const float (&s)[kSteps * 8],
                                                  uint32_t (&p)[kSteps][4]) {
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
#pragma unroll
    for (int x = 0; x < 4; ++x) p[kk][x] = pack_bf16x2(s[8 * kk + 2 * x], s[8 * kk + 2 * x + 1]);
}

__device__ __forceinline__ void rescale(float (&o)[64], const float (&corr)[2]) {
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    o[4 * i + 0] *= corr[0];
    o[4 * i + 1] *= corr[0];
    o[4 * i + 2] *= corr[1];
    o[4 * i + 3] *= corr[1];
  }
}

#endif  // sm_90a or host pass

// A TMA map over a contiguous [B, S, H, 128] bf16 tensor, dims listed innermost first (D, H, S, B),
// boxes of 64 d x 1 head x box_rows rows x 1 batch: one 128-byte swizzled half of a tile.
inline CUtensorMap bshd_tensor_map(const Tensor& t, uint32_t box_rows) {
  const uint64_t B = t.size(0), S = t.size(1), H = t.size(2), D = t.size(3);
  const cuuint64_t dims[4] = {D, H, S, B};
  const cuuint64_t strides[3] = {D * 2, H * D * 2, S * H * D * 2};  // bytes, dims 1..3
  const cuuint32_t box[4] = {64, 1, box_rows, 1};
  return encode_tensor_map("flash_attention", t, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4, dims, strides,
                           box, CU_TENSOR_MAP_SWIZZLE_128B);
}

}  // namespace fastvideo::ops::cuda::hopper
