// What the attention kernels share, valid on every sm_80+ device: inline-PTX helpers
// (shared-memory addresses, the MUFU exp2, bf16 packing), the accumulator layout, lane-group and
// warp reductions, and the online softmax's constants and per-row steps. Device code only, but
// for the constants.
#pragma once

#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>

namespace fastvideo::ops::cuda {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 2^x on the special-function unit (PTX ISA "ex2"): flushes denormals, exp2(-inf) = 0.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Two floats as one bf16x2 register, `lo` in the low half (the lower k index of an A fragment).
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

inline constexpr float kLog2e = 1.4426950408889634f;

// The mma.m16n8 / wgmma m64nN accumulator layout: element e (0..3) of n8 column block `block` held
// by `lane` sits in column 8·block + 2·(lane % 4) + (e & 1), row lane / 4 (+ 8 for e >= 2).
__device__ __forceinline__ int accumulator_column(int block, int lane, int e) {
  return 8 * block + 2 * (lane % 4) + (e & 1);
}

// Reductions over aligned groups of `Lanes` consecutive lanes (a power of two below 32), every
// lane getting its group's result; a quad is the four lanes that share an accumulator row.
template <int Lanes>
__device__ __forceinline__ float group_max(float x) {
  static_assert(Lanes > 1 && Lanes < 32 && (Lanes & (Lanes - 1)) == 0, "a power of two below 32");
#pragma unroll
  for (int offset = 1; offset < Lanes; offset *= 2)
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}
template <int Lanes>
__device__ __forceinline__ float group_sum(float x) {
  static_assert(Lanes > 1 && Lanes < 32 && (Lanes & (Lanes - 1)) == 0, "a power of two below 32");
#pragma unroll
  for (int offset = 1; offset < Lanes; offset *= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}
__device__ __forceinline__ float quad_max(float x) { return group_max<4>(x); }
__device__ __forceinline__ float quad_sum(float x) { return group_sum<4>(x); }

// Reductions over a whole warp (every lane gets the result).
__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2)
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

// Online softmax in base 2 with the scale folded in: p = exp2(s·scale·log2e − base·scale·log2e),
// one FFMA and one MUFU.EX2 per score. The base moves only when a row's max grew by more than
// 2^kRescaleThresholdLog2 (FA4's conditional rescaling): until then p < 2^8, harmless in fp32
// sums and bf16 P, and O and l need no rescale, since they always refer to the same base.
inline constexpr float kRescaleThresholdLog2 = 8.f;

// The exponent base of a row with running max m: m, or 0 while the row has no finite score, so
// exp2(−inf − 0) = 0 instead of NaN.
__device__ __forceinline__ float exponent_base(float m) { return m == -INFINITY ? 0.f : m; }

// The quad's max of a row: its running max m and this lane's kPairs score pairs score(i, 0..1).
template <int kPairs, class Score>
__device__ __forceinline__ float row_max(Score&& score, float m) {
#pragma unroll
  for (int i = 0; i < kPairs; ++i) m = fmaxf(m, fmaxf(score(i, 0), score(i, 1)));
  return quad_max(m);
}

// Whether a row's max moving from m to mx moves the base. From −inf (no base yet) any finite max
// counts; −inf to −inf is NaN: no move.
__device__ __forceinline__ bool outgrows_base(float mx, float m, float scale_log2) {
  return (mx - m) * scale_log2 > kRescaleThresholdLog2;
}

// One row's step of the online softmax once the warp has decided whether to `rebase` (a uniform
// choice, so the O rescale is a uniform branch): moves the base to mx if so, with corr the factor
// O must then be scaled by; turns this lane's scores into p; adds their sum to its partial l.
template <int kPairs, class Score>
__device__ __forceinline__ void softmax_row_step(Score&& score, float mx, bool rebase,
                                                 float scale_log2, float& m, float& l,
                                                 float& corr) {
  if (rebase) {
    corr = exp2_approx((m - exponent_base(mx)) * scale_log2);
    m = mx;
  }
  const float neg_base = -exponent_base(m) * scale_log2;
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < kPairs; ++i) {
    float& s0 = score(i, 0);
    float& s1 = score(i, 1);
    s0 = exp2_approx(fmaf(s0, scale_log2, neg_base));
    s1 = exp2_approx(fmaf(s1, scale_log2, neg_base));
    sum += s0 + s1;
  }
  l = (rebase ? l * corr : l) + sum;
}

}  // namespace fastvideo::ops::cuda
