// What SAGE_ATTN's two Hopper kernels share (the dense one in sage_attention_hopper.cu, the one
// over block lists for SageSLA in sage_sparse_attention_hopper.cu): one warpgroup's step over a
// 128-key block on 64 query rows (contract steps 3, 4 and 6, ops/sage_attention.h), the epilogue,
// and the TMA maps over the pre-pass's INT8 and E4M3 tensors (ops/cuda/sage_kernels.h).
//
// A step, per warpgroup:
//   S = Q·Kᵀ by wgmma m64n128k32 s8·s8 -> s32 (both from shared memory);
//   the row max on the integer scores S (exact; |S| <= 128·127² < 2^22), times qk =
//   q_scale·k_scale, one number per thread: the thread's rows share a Query group and its columns
//   a Key group (the contract's groups follow this fragment); qk > 0 and rounding is monotonic, so
//   that is the max of the dequantized scores;
//   online softmax in base 2 with P̃ = exp2(S·qk − m + log2 448) in one IADD and one FFMA (S +
//   0x4B400000 read as a float is 1.5·2^23 + S; softmax_step says why the rounding is the
//   contract's within 0.52·qk of P̃); the base moves whenever a row's max grows (P̃ must stay within
//   E4M3's 448); every exp2 on the MUFU (a quarter of them on the FMA pipes, a cubic, measured
//   slower once the step had fewer instructions: docs/perf.md); l adds the E4M3 P̃'s row sums,
//   which the tensor cores give with T below (contract step 4 allows them);
//   P̃ to E4M3 in the A-register layout of wgmma k32 (four consecutive k per register), which
//   takes the thread's accumulator columns 2t, 2t+1, 8+2t, 9+2t of each 16: the pre-pass stored
//   Vᵀ's keys in that order (sage_v_slot);
//   T = P̃·V by wgmma m64n136k32 e4m3·e4m3 -> f32 into a zeroed temporary (Vᵀ's tile followed by
//   8 rows of ones, so T's last 8 columns are P̃'s row sums), then O = O·corr + T in f32
//   (two-level accumulation: the FP8 MMA accumulates with ~22 bits).
// Epilogue: O · v_scale[channel] / l, bf16, raster rows.
// Both kernels' shared memory therefore holds each Vᵀ stage as kVStageBytes: the tile, then
// kOnesBytes of E4M3 ones that write_ones fills once (TMA never touches them).
#pragma once

#include <cuda.h>
#include <cuda_bf16.h>

#include <climits>

#include "fastvideo/error.h"
#include "ops/cuda/hopper_attention.cuh"
#include "ops/cuda/sage_kernels.h"
#include "ops/sage_attention.h"

namespace fastvideo::ops::cuda::sage_hopper {

using namespace hopper;

constexpr int kBlockN = int(kSageKeyBlock);
constexpr int kD = int(kSageHeadDim);
constexpr int kSteps = 4;                       // k32 steps of either GEMM (128 channels, 128 keys)
constexpr uint32_t kKTileBytes = kBlockN * kD;  // int8
constexpr uint32_t kVTileBytes = kD * kBlockN;  // E4M3
constexpr uint32_t kOnesBytes = 8 * kBlockN;    // 8 rows of E4M3 ones after each Vᵀ tile
constexpr uint32_t kVStageBytes = kVTileBytes + kOnesBytes;
static_assert(kBlockN == 128 && kD == 128, "the k32 steps and the fragment packing assume 128");

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

// The wgmma descriptor of a 128-byte-swizzled K-major tile at `smem`. A k32 step is 32 bytes along
// the rows, +2 in the descriptor's address field (address >> 4; shared addresses stay below 2^18,
// so the field never carries into the next), and so is a whole tile further on: callers add to
// descriptors made once instead of building one per wgmma.
__device__ __forceinline__ uint64_t tile_desc(uint32_t smem) {
  return smem_desc_sw128(smem, 16, 1024);
}
constexpr uint64_t kDescStep = 32 >> 4;  // one k32 step

// S[64 x 128] = Q[64 rows] · K_tileᵀ in s32, both from shared memory (tile_desc of each).
__device__ __forceinline__ void issue_qk(uint32_t (&acc)[64], uint64_t q_desc, uint64_t k_desc) {
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
    wgmma_m64n128k32_s8_ss(acc, q_desc + kk * kDescStep, k_desc + kk * kDescStep, kk > 0 ? 1 : 0);
}

// Four P̃ to one register of E4M3, the first in the lowest byte.
__device__ __forceinline__ uint32_t pack_e4m3x4(float a, float b, float c, float d) {
  return pack_e4m3x2(a, b) | pack_e4m3x2(c, d) << 16;
}

// P̃ (f32, accumulator layout) to the A operand of the k32 steps: step kk covers n8 blocks
// 4kk .. 4kk + 3; registers 0/1 rows t/4 and t/4 + 8 from blocks 4kk, 4kk + 1, registers 2/3 from
// blocks 4kk + 2, 4kk + 3 (keys ordered as sage_v_slot says).
__device__ __forceinline__ void scores_to_e4m3(const float (&s)[64], uint32_t (&pf)[kSteps][4]) {
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk) {
    const float* b0 = s + 16 * kk;  // blocks 4kk .. 4kk + 3, four accumulators each
    pf[kk][0] = pack_e4m3x4(b0[0], b0[1], b0[4], b0[5]);
    pf[kk][1] = pack_e4m3x4(b0[2], b0[3], b0[6], b0[7]);
    pf[kk][2] = pack_e4m3x4(b0[8], b0[9], b0[12], b0[13]);
    pf[kk][3] = pack_e4m3x4(b0[10], b0[11], b0[14], b0[15]);
  }
}

// The softmax part of a step on the Q·Kᵀ accumulator `acc`: keys at column >= valid are masked;
// m is the thread's two rows' running max (their sums l are accumulate_pv's); leaves P̃ as E4M3 in
// pf and the factors O and l must be scaled by in corr. Returns whether some row's base moved.
// The row max is taken on the integer scores (qk > 0: the same order as the dequantized ones), and
// the int-to-float step folds into the exponent's FFMA: the bits acc + 0x4B400000 are the float
// X = 1.5·2^23 + S (exact), and X·qk − (1.5·2^23·qk + base) = S·qk − base up to the rounding of
// the constant: at most 0.75·qk in the exponent, 0.52·qk of P̃ (qk ~ 1e-4 at Wan's logit scales:
// far below E4M3's 2^-4; at 20x magnitudes a few % per row and block, where the one-hot softmax
// does not feel it).
template <bool kMasked>
__device__ __forceinline__ bool softmax_step_where(const uint32_t (&acc)[64], float qk, int valid,
                                                   int lane, float (&m)[2],
                                                   uint32_t (&pf)[kSteps][4], float (&corr)[2]) {
  const auto kept = [&](int i) {
    return !kMasked || accumulator_column(i / 4, lane, i % 4) < valid;
  };
  float neg_c[2];
  bool grows = false;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    int mi = INT_MIN;
#pragma unroll
    for (int i = 0; i < 16; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e)
        if (kept(4 * i + 2 * r + e)) mi = max(mi, int(acc[4 * i + 2 * r + e]));
    const float mx = fmaxf(m[r], quad_max(float(mi) * qk));
    grows |= mx > m[r];
    corr[r] = exp2_approx(m[r] - mx);  // 0 on the first block (m = −∞)
    m[r] = mx;
    neg_c[r] = -fmaf(12582912.f, qk, mx - kSageLog2PMax);
  }
  float s[64];
#pragma unroll
  for (int i = 0; i < 16; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float y = fmaf(__uint_as_float(acc[4 * i + e] + 0x4B400000u), qk, neg_c[e / 2]);
      const float p = exp2_approx(y);
      s[4 * i + e] = kept(4 * i + e) ? p : 0.f;
    }
  scores_to_e4m3(s, pf);
  return __any_sync(0xffffffffu, grows);
}

__device__ __forceinline__ bool softmax_step(const uint32_t (&acc)[64], float qk, int valid,
                                             int lane, float (&m)[2], uint32_t (&pf)[kSteps][4],
                                             float (&corr)[2]) {
  return valid >= kBlockN ? softmax_step_where<false>(acc, qk, valid, lane, m, pf, corr)
                          : softmax_step_where<true>(acc, qk, valid, lane, m, pf, corr);
}

// The P̃·V half of a step, once V's tile has landed: T = P̃·V into a temporary on the tensor cores,
// then O = O·corr + T (where some row's base moved) or O += T; `release_v` runs as soon as the
// tensor cores are done with the tile.
// The row sums of P̃ come from the tensor cores too: the Vᵀ tile at v_desc is followed by 8 rows
// of E4M3 ones (kOnesBytes), so the m64n136 product's columns 128..135 are the sums of the block's
// E4M3 P̃ per row, and l = l·corr + that sum: whole rows, the same in the quad's 4 lanes. 64 FADDs
// fewer per step than summing the f32 P̃ (the other l contract step 4 allows).
template <class Release>
__device__ __forceinline__ void accumulate_pv(float (&o)[64], float (&l)[2],
                                              uint32_t (&pf)[kSteps][4], const float (&corr)[2],
                                              bool grows, uint64_t v_desc, Release&& release_v) {
  float tmp[68];
  fence_operands(tmp);
  fence_operands(pf);
  wgmma_fence();
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
    wgmma_m64n136k32_e4m3_rs(tmp, pf[kk], v_desc + kk * kDescStep, kk > 0 ? 1 : 0);
  wgmma_commit();
  wgmma_wait<0>();
  fence_operands(tmp);
  fence_operands(pf);
  release_v();
  // O = O·corr + T in one FFMA where a row's base moved, else O += T: 64 instructions fewer on
  // those steps than rescaling O while the product runs.
  if (grows) {
#pragma unroll
    for (int i = 0; i < 64; ++i) o[i] = fmaf(o[i], corr[i % 4 / 2], tmp[i]);
  } else {
#pragma unroll
    for (int i = 0; i < 64; ++i) o[i] += tmp[i];
  }
  l[0] = fmaf(l[0], corr[0], tmp[64]);
  l[1] = fmaf(l[1], corr[1], tmp[66]);
}

// The ones after each of `stages` Vᵀ tiles (E4M3 1.0 = 0x38), written by the CTA's `threads`
// threads through the generic proxy; the caller's __syncthreads publishes them, after
// fence_proxy_async_shared, to the tensor cores. v_stage(s): stage s's shared address.
template <class VStage>
__device__ __forceinline__ void write_ones(uint8_t* smem_raw, int stages, int threads,
                                           VStage&& v_stage) {
  constexpr int kWords = int(kOnesBytes / 4);
  for (int i = threadIdx.x; i < stages * kWords; i += threads) {
    const uint32_t at = v_stage(i / kWords) + kVTileBytes + 4 * (i % kWords);
    *reinterpret_cast<uint32_t*>(smem_raw + (at - smem_u32(smem_raw))) = 0x38383838u;
  }
  fence_proxy_async_shared();
}

// O · v_scale / l in place for the thread's rows (4 threads cover 8 channels of a row).
// l holds whole rows (accumulate_pv), not the thread's quarter.
__device__ __forceinline__ void scale_output(float (&o)[64], const float (&l)[2],
                                             const float* v_scales, int heads, int head, int batch,
                                             int lane) {
  v_scales += (int64_t(batch) * heads + head) * kD + 2 * (lane % 4);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float inv = 1.f / l[r];
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const float2 vs = *reinterpret_cast<const float2*>(v_scales + 8 * i);
      o[4 * i + 2 * r] = o[4 * i + 2 * r] * vs.x * inv;
      o[4 * i + 2 * r + 1] = o[4 * i + 2 * r + 1] * vs.y * inv;
    }
  }
}

// The thread's rows q_first and q_first + 8 of (batch, head) as bf16 pairs, plus bias[channel]
// where `bias` is given; rows at or past seq_q are not written.
__device__ __forceinline__ void store_rows(const float (&o)[64], const float* bias,
                                           __nv_bfloat16* out, int q_first, int seq_q, int heads,
                                           int head, int batch, int lane) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int q = q_first + 8 * r;
    if (q >= seq_q) continue;
    __nv_bfloat16* row = out + ((int64_t(batch) * seq_q + q) * heads + head) * kD;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const int col = 8 * i + 2 * (lane % 4);
      float x = o[4 * i + 2 * r], y = o[4 * i + 2 * r + 1];
      if (bias) x += bias[col], y += bias[col + 1];
      *reinterpret_cast<uint32_t*>(row + col) = pack_bf16x2(x, y);
    }
  }
}

// The epilogue: O · v_scale / l for the thread's rows q_first and q_first + 8, as bf16.
__device__ __forceinline__ void store_output(float (&o)[64], const float (&l)[2],
                                             const float* v_scales, __nv_bfloat16* out, int q_first,
                                             int seq_q, int heads, int head, int batch, int lane) {
  scale_output(o, l, v_scales, heads, head, batch, lane);
  store_rows(o, nullptr, out, q_first, seq_q, heads, head, batch, lane);
}

#endif  // sm_90a or host pass

// What both kernels read besides the TMA maps: the output, the pre-pass's scales and the sizes.
struct SageCommon {
  __nv_bfloat16* out;  // [B, Sq, H, 128]
  const float* q_scales;
  const float* k_scales;
  const float* v_scales;
  int heads, seq_q, seq_k, q_scale_count, k_scale_count;
};

inline SageCommon sage_common(const SageDeviceInputs& in, const Tensor& out) {
  return {out.data<__nv_bfloat16>(), in.q_scales.data<float>(), in.k_scales.data<float>(),
          in.v_scales.data<float>(), int(in.q_int8.size(2)),    int(in.q_int8.size(1)),
          int(in.k_int8.size(1)),    int(in.q_scales.size(2)),  int(in.k_scales.size(2))};
}

// A TMA map over bytes: dims innermost first, strides in bytes for dims 1.., a 128-byte swizzled
// box (its innermost extent is 128 bytes).
inline CUtensorMap byte_tensor_map(const Tensor& t, int rank, const cuuint64_t* dims,
                                   const cuuint64_t* strides, const cuuint32_t* box) {
  return encode_tensor_map("SAGE_ATTN", t, CU_TENSOR_MAP_DATA_TYPE_UINT8, rank, dims, strides, box,
                           CU_TENSOR_MAP_SWIZZLE_128B);
}

// [B, S, H, 128] int8, boxes of `rows` rows of one head.
inline CUtensorMap int8_rows_map(const Tensor& t, uint32_t rows) {
  const uint64_t B = t.size(0), S = t.size(1), H = t.size(2);
  const cuuint64_t dims[4] = {uint64_t(kD), H, S, B};
  const cuuint64_t strides[3] = {uint64_t(kD), H * kD, S * H * kD};
  const cuuint32_t box[4] = {uint32_t(kD), 1, rows, 1};
  return byte_tensor_map(t, 4, dims, strides, box);
}

// Vᵀ [B, H, 128, S_pad] E4M3, boxes of 128 keys x 128 channels of one head.
inline CUtensorMap v_transposed_map(const Tensor& t) {
  const uint64_t B = t.size(0), H = t.size(1), S_pad = t.size(3);
  const cuuint64_t dims[4] = {S_pad, uint64_t(kD), H, B};
  const cuuint64_t strides[3] = {S_pad, kD * S_pad, H * kD * S_pad};
  const cuuint32_t box[4] = {uint32_t(kBlockN), uint32_t(kD), 1, 1};
  return byte_tensor_map(t, 4, dims, strides, box);
}

}  // namespace fastvideo::ops::cuda::sage_hopper
