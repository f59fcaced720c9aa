// Inline-PTX wrappers for the sm_80 instructions the portable flash-attention kernel uses (valid on
// every sm_80+ GPU, Hopper included): warp-level mma.sync, ldmatrix and cp.async. Facts from the
// PTX ISA: "Warp-level Matrix Multiply-Accumulate Instructions" (section "Matrix Fragments for
// mma.m16n8k16 with floating point type"), "ldmatrix", "cp.async", "cp.async.commit_group",
// "cp.async.wait_group". Device code only.
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

}  // namespace fastvideo::ops::cuda::ampere
