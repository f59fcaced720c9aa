// Inline-PTX wrappers for the sm_80 instructions the portable attention kernels use (valid on every
// sm_80+ GPU, Hopper included): warp-level mma.sync, ldmatrix and cp.async; and, marked so, the two
// sm_89+ FP8 instructions of SAGE_ATTN's portable kernel. Facts from the PTX ISA: "Warp-level
// Matrix Multiply-Accumulate Instructions" (sections "Matrix Fragments for mma.m16n8k16 with
// floating point type" and "Matrix Fragments for mma.m16n8k32"), "ldmatrix", "cp.async",
// "cp.async.commit_group", "cp.async.wait_group", "cvt". Device code only.
#pragma once

#include <cstdint>

namespace fastvideo::ops::cuda::ampere {

// ---- cp.async (global -> shared, 16 bytes, bypassing L1) ----
// Copies `src_bytes` (16 or 0) bytes and zero-fills the rest of the 16-byte destination, so a
// row outside the sequence lands as zeros (PTX ISA "cp.async": src-size < cp-size fills zeros).
__device__ __forceinline__ void cp_async_cg_16(uint32_t smem_dst, const void* gmem_src,
                                               uint32_t src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_dst), "l"(gmem_src),
               "r"(src_bytes));
}
// Closes the group of this thread's cp.async operations issued since the last commit (an empty
// group is legal and completes at once).
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most kPending of this thread's most recent groups are still in flight. Other
// threads see the data only after a barrier that follows the wait.
template <int kPending>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// ---- ldmatrix (PTX ISA "ldmatrix") ----
// Four 8x8 b16 matrices; lanes 8i..8i+7 give the shared-memory addresses of the 8 rows (16 bytes
// each) of matrix i, and register r[i] receives matrix i's fragment: lane l holds row l/4,
// columns 2·(l%4) and 2·(l%4) + 1 (low half first).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t smem_row_addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_row_addr));
}
// The same with .trans: lane l receives matrix i's elements at rows 2·(l%4) and 2·(l%4) + 1 of
// column l/4, i.e. the fragment of the transposed matrix.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t smem_row_addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_row_addr));
}

// ---- mma.sync m16n8k16, bf16 inputs, f32 accumulators ----
// Fragments (PTX ISA "Matrix Fragments for mma.m16n8k16 with floating point type"), with
// g = lane/4, t = lane%4, each register a bf16 pair (lower column / k index in the low half):
//   A (16x16, row-major): a[0] = (row g, k 2t..2t+1), a[1] = (row g+8, k 2t..), a[2] = (row g,
//     k 2t+8..), a[3] = (row g+8, k 2t+8..).
//   B (16x8, "col": each column n contiguous in k): b[0] = (k 2t..2t+1, n g), b[1] = (k 2t+8..,
//     n g).
//   C/D (16x8 f32): d[0], d[1] = (row g, n 2t, 2t+1), d[2], d[3] = (row g+8, n 2t, 2t+1).
// D = A·B + D.
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4],
                                                  uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// The same with f16 inputs (same fragment layout, each register an f16 pair).
__device__ __forceinline__ void mma_m16n8k16_f16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                 uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// ---- mma.sync m16n8k32, 8-bit inputs (PTX ISA "Matrix Fragments for mma.m16n8k32") ----
// With g = lane/4, t = lane%4, each register four 8-bit values (the lowest k in the low byte):
//   A (16x32, row-major): a[0] = (row g, k 4t..4t+3), a[1] = (row g+8, k 4t..), a[2] = (row g,
//     k 16+4t..), a[3] = (row g+8, k 16+4t..).
//   B (32x8, "col"): b[0] = (k 4t..4t+3, n g), b[1] = (k 16+4t.., n g).
//   C/D (16x8, s32 or f32): the m16n8k16 layout above.
// An ldmatrix 8x8 b16 matrix over 8 rows of 16 bytes gives lane l row l/4, bytes 4(l%4)..+3: the
// A and B fragments of 8-bit data whose rows are contiguous in k.
// D = A·B + D, int8 x int8 -> int32 (exact; no saturation needed while |D| < 2^31).
__device__ __forceinline__ void mma_m16n8k32_s8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                                uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// sm_89+ only: E4M3 x E4M3 -> f32, same fragments. Ada's FP8 MMA accumulates with fewer than f32's
// bits (attention-algorithms.md §5.2), so callers accumulate short sums in it.
__device__ __forceinline__ void mma_m16n8k32_e4m3(float (&d)[4], const uint32_t (&a)[4],
                                                  uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// sm_89+ only: four f32 to E4M3 (round to nearest even, saturating at ±448) in one register, a in
// the lowest byte (cvt's first source goes to the upper byte of each pair).
__device__ __forceinline__ uint32_t pack_e4m3x4(float a, float b, float c, float d) {
  uint16_t lo, hi;
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(lo) : "f"(b), "f"(a));
  asm("cvt.rn.satfinite.e4m3x2.f32 %0, %1, %2;\n" : "=h"(hi) : "f"(d), "f"(c));
  return uint32_t(lo) | uint32_t(hi) << 16;
}

}  // namespace fastvideo::ops::cuda::ampere
