// FLASH_ATTN forward for any sm_80+ GPU (A100, L40S, RTX 4090; the fallback on H100/H200),
// FlashAttention-2 style (attention-algorithms.md §1.2): warp-level mma.sync, ldmatrix, cp.async.
//
// Tile shape: 128 query rows x kBlockN = 64 keys per step, head dim 128; bf16 in, fp32 accumulate.
// CTA:        4 warps; warp w owns query rows 32w .. 32w + 31 (two m16 row blocks) for the whole
//             KV loop, so no cross-warp reduction is needed. 96 KiB of shared memory per CTA and at
//             most 255 registers per thread: two CTAs share an SM on H100/H200 (228 KiB), one on
//             A100 (164 KiB) and sm_86/89 (100 KiB).
// Shared:     Q tile (32 KiB, loaded once) and double-buffered K and V tiles (16 KiB each per
//             stage). Rows are 128 bf16 = 16 chunks of 16 bytes; chunk c of row r is stored at
//             chunk position c ^ (r % 8), so the 8 row addresses of one ldmatrix matrix (same
//             logical chunk, 8 consecutive rows) and the 8 chunks a quarter-warp copies with
//             cp.async all fall in different 16-byte bank groups: no bank conflicts.
// Grid:       one dimension over B x H x ceil(Sq / 128) work tiles, query tile fastest, so CTAs
//             running together share K/V in L2 (and no 65,535 limit on heads or batch).
//
// Per KV tile j (n = ceil(Sk / kBlockN) tiles; one cp.async group per thread and step: {Q, K_0,
// V_0} before the loop, then {K_{j+1}, V_{j+1}}, empty past the end):
//   wait for this thread's copies; __syncthreads  (K_j, V_j visible; every warp is done with the
//                                                 other stage, read in step j - 1)
//   issue K_{j+1}, V_{j+1} into the other stage   (they land during this step's math)
//   S = Q·K_jᵀ                     (Q and K fragments by ldmatrix, mma.sync m16n8k16)
//   mask keys >= Sk (last tile only); online softmax in base 2; P = bf16(S); rescale O if the
//   exponent base moved
//   O += P·V_j                     (P straight from registers, V fragments by ldmatrix.trans)
// One barrier per step. (K and V in one group rather than FA2's separate K and V waits: issuing
// the V copies after Q·Kᵀ, while S is live, made ptxas spill.)
// Epilogue: O / l -> bf16, staged through this warp's own rows of the Q tile and written as
// 16-byte coalesced row chunks; LSE = m·scale + ln(l).
//
// Softmax works in base 2 with the scale folded in: p = exp2(s·scale·log2e - m·scale·log2e), m
// the running exponent base of the raw scores, moved only when a row's max grew by more than 2^8
// (kRescaleThresholdLog2); the row sums l stay per-thread partial sums until the epilogue (the
// correction factors are uniform over the 4 lanes sharing a row).
//
// Block-sparse variant (VSA's fine stage and SLA's sparse branch, vsa_fine_stage.h): the same
// kernel with a 64-row query tile (one VSA tile, one m16 row block per warp) whose KV steps walk
// that tile's list of selected 64-key tiles, masking each tile's keys past its valid count (given
// per tile, or what is left of the sequence). Consecutive query tiles may share one list (SLA's
// 128-row query blocks are two tiles); the last query tile may be partial, like the dense kernel's.
//
// Tested by tests/cuda_flash_attention_test.cpp against ops::cpu::attention and by
// tests/cuda_video_sparse_attention_test.cpp against the VSA reference.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/ampere_ptx.cuh"
#include "ops/cuda/vsa_fine_stage.h"
#include "ops/cuda/flash_attention_kernels.h"
#include "ops/cuda/ptx_common.cuh"

namespace fastvideo::ops::cuda {

namespace {

using namespace ampere;

constexpr int kHeadDim = kFlashHeadDim;
constexpr int kBlockN = 64;  // keys per KV tile (one VSA tile)
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kKeyBlocks = kBlockN / 8;     // n8 column blocks of S
constexpr int kKeySteps = kBlockN / 16;     // k16 steps of P·V
constexpr int kDimSteps = kHeadDim / 16;    // k16 steps of Q·Kᵀ
constexpr int kDimBlocks = kHeadDim / 8;    // n8 column blocks of O
constexpr int kRowBytes = kHeadDim * 2;     // 256
constexpr int kRowChunks = kRowBytes / 16;  // 16-byte chunks per row
constexpr uint32_t kKvBytes = kBlockN * kRowBytes;
constexpr uint32_t kAlign = 256;  // tiles start 256-byte aligned (see lane_address)
static_assert(kBlockN % 16 == 0, "whole k16 fragments");
static_assert(kBlockN * kRowChunks % kThreads == 0, "every thread copies the same number of chunks");

// The query tile of a variant: kRowBlocks m16 row blocks per warp. Dense FLASH_ATTN takes 128 rows
// (2 per warp); the block-sparse variant one 64-row VSA tile (1 per warp), whose key tiles differ
// from its neighbour's.
template <int kRowBlocks>
struct QueryTile {
  static constexpr int kWarpRows = 16 * kRowBlocks;
  static constexpr int kBlockM = kWarps * kWarpRows;
  static constexpr uint32_t kQBytes = kBlockM * kRowBytes;
  // Q, K x 2 stages, V x 2 stages (96 KiB for 128 rows), plus alignment slack.
  static constexpr size_t kSmemBytes = kAlign + kQBytes + 4 * kKvBytes;
  static_assert(kBlockM * kRowChunks % kThreads == 0, "every thread copies the same chunks");
};
constexpr int kDenseRowBlocks = 2;
constexpr int kSparseRowBlocks = 1;
static_assert(kThreads % kRowChunks == 0 && (kThreads / kRowChunks) % 8 == 0,
              "a thread's copied rows share one swizzle phase");

struct PortableParams {
  const __nv_bfloat16* q;  // [B, Sq, H, D]
  const __nv_bfloat16* k;  // [B, Sk, H, D]
  const __nv_bfloat16* v;  // [B, Sk, H, D]
  __nv_bfloat16* out;      // [B, Sq, H, D]
  float* lse;              // [B, H, Sq] or null
  int heads, seq_q, seq_k;
  float scale, scale_log2;
  // Block-sparse only: per (batch, head, row of the selection) `topk` key tiles, and each tile's
  // valid keys (null: min(64, seq_k - 64j), every tile full but the sequence's last).
  const int32_t* selected;    // [B, H, ceil(ceil(Sq / 64) / q_tiles_per_row), topk]
  const int32_t* tile_sizes;  // [ceil(Sk / 64)] or null
  int topk;
  int q_tiles_per_row;  // consecutive 64-row query tiles that share a row of `selected`
};

// Byte offset of logical 16-byte chunk `chunk` of row `row` in a swizzled tile.
__device__ __forceinline__ uint32_t swizzled(int row, int chunk) {
  return uint32_t(row * kRowBytes + ((chunk ^ (row % 8)) << 4));
}

// Starts the copy of rows row0 .. row0 + kRows - 1 of one head into a swizzled tile. `rows`
// points at row row0 of that head, consecutive rows `row_stride` elements apart; `rows_left` is
// the number of rows from row0 to the end of the sequence. Rows past the end are zero-filled (no
// bytes are read), so they contribute finite zeros, never NaN, to both GEMMs. Thread tid copies
// chunk tid % 16 of rows tid / 16 + 8·i.
template <int kRows>
__device__ __forceinline__ void load_tile(uint32_t tile, const __nv_bfloat16* rows,
                                          uint32_t row_stride, int rows_left, int tid) {
  constexpr int kRowStep = kThreads / kRowChunks;
  const int row = tid / kRowChunks, chunk = tid % kRowChunks;
  const __nv_bfloat16* src = rows + (row * row_stride + chunk * 8);
  const uint32_t dst = tile + swizzled(row, chunk);  // every row + 8·i has the same swizzle phase
  rows_left -= row;
#pragma unroll
  for (int i = 0; i < kRows / kRowStep; ++i) {
    cp_async_cg_16(dst + i * kRowStep * kRowBytes, src, rows_left > i * kRowStep ? 16u : 0u);
    src += kRowStep * row_stride;
  }
}

// ldmatrix addressing. Every row a lane addresses below is congruent to lane % 8 mod 8, so its
// swizzle phase is lane % 8; a tile starts 256-byte aligned, so a row's address has bits 0-7
// clear. Logical chunk c0 + 2x (c0 = 0 or 1) then lies at physical chunk (c0 ^ (lane % 8)) ^ 2x:
// each lane computes the address of its chunk c0 once (lane_address) and reaches step x with one
// XOR, address ^ (x << 5); row-block offsets (multiples of 16 rows = 4096 bytes) add on top.
__device__ __forceinline__ uint32_t lane_address(uint32_t tile, int row, int c0) {
  return tile + swizzled(row, c0);
}
__device__ __forceinline__ uint32_t chunk_step(uint32_t address, int x) {
  return address ^ uint32_t(x << 5);
}

// S[32 x kBlockN] = Q[this warp's rows] · K_tileᵀ.
// A = Q (row-major [row][d]): a[0..3] are the 8x8 matrices (rows 0-7 | 8-15) x (k 0-7 | 8-15) in
// the order (0-7, 0-7), (8-15, 0-7), (0-7, 8-15), (8-15, 8-15), so lane l addresses row l % 16,
// chunk 2·kk + l / 16 (q_lane: the address for kk = 0 in row block 0).
// B = Kᵀ: column n of B is key n, contiguous in d, i.e. a K row; a non-transposed 8x8 matrix of
// 8 keys x 8 d gives lane l (key l/4, d 2·(l%4)..+1) = the B fragment (k 2t.., n g). One x4 load
// covers two n8 blocks: matrices (keys 0-7, k lo), (keys 0-7, k hi), (keys 8-15, k lo),
// (keys 8-15, k hi); lane l addresses key (l % 8) + 8·(l / 16), chunk 2·kk + (l / 8) % 2 (k_lane:
// the address for kk = 0 in key block 0).
template <int kRowBlocks>
__device__ __forceinline__ void qk_gemm(float (&s)[kRowBlocks][kKeyBlocks][4], uint32_t q_lane,
                                        uint32_t k_lane) {
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb) {
#pragma unroll
    for (int nb = 0; nb < kKeyBlocks; ++nb)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[rb][nb][e] = 0.f;
  }
  // Fully unrolled: measured 3-5 % faster than a rolled loop (docs/perf.md), no spills.
#pragma unroll
  for (int kk = 0; kk < kDimSteps; ++kk) {
    uint32_t a[kRowBlocks][4];
#pragma unroll
    for (int rb = 0; rb < kRowBlocks; ++rb)
      ldmatrix_x4(a[rb], chunk_step(q_lane, kk) + rb * 16 * kRowBytes);
#pragma unroll
    for (int np = 0; np < kKeyBlocks / 2; ++np) {
      uint32_t b[4];
      ldmatrix_x4(b, chunk_step(k_lane, kk) + np * 16 * kRowBytes);
#pragma unroll
      for (int rb = 0; rb < kRowBlocks; ++rb) {
        mma_m16n8k16_bf16(s[rb][2 * np], a[rb], b[0], b[1]);
        mma_m16n8k16_bf16(s[rb][2 * np + 1], a[rb], b[2], b[3]);
      }
    }
  }
}

// O[32 x 128] += P[32 x kBlockN] · V_tile[kBlockN x 128].
// B = V stored [key][d], row-major in k, so B's columns are strided: ldmatrix.trans of an 8x8
// matrix of 8 keys x 8 d gives lane l (keys 2·(l%4)..+1, d l/4) = the B fragment (k 2t.., n g).
// One x4 load covers two n8 blocks of d: matrices (keys 0-7, d lo), (keys 8-15, d lo), (keys 0-7,
// d hi), (keys 8-15, d hi); lane l addresses key 16·kk + l % 16, chunk 2·dp + l / 16 (v_lane: the
// address for kk = 0, dp = 0).
template <int kRowBlocks>
__device__ __forceinline__ void pv_gemm(float (&o)[kRowBlocks][kDimBlocks][4],
                                        const uint32_t (&p)[kRowBlocks][kKeySteps][4],
                                        uint32_t v_lane) {
#pragma unroll
  for (int kk = 0; kk < kKeySteps; ++kk)
#pragma unroll
    for (int dp = 0; dp < kDimBlocks / 2; ++dp) {
      uint32_t b[4];
      ldmatrix_x4_trans(b, chunk_step(v_lane, dp) + kk * 16 * kRowBytes);
#pragma unroll
      for (int rb = 0; rb < kRowBlocks; ++rb) {
        mma_m16n8k16_bf16(o[rb][2 * dp], p[rb][kk], b[0], b[1]);
        mma_m16n8k16_bf16(o[rb][2 * dp + 1], p[rb][kk], b[2], b[3]);
      }
    }
}

// Keys at column >= valid_keys of the tile lie past the end of the sequence.
template <int kRowBlocks>
__device__ __forceinline__ void mask_keys(float (&s)[kRowBlocks][kKeyBlocks][4], int valid_keys,
                                          int lane) {
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
    for (int nb = 0; nb < kKeyBlocks; ++nb)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        if (accumulator_column(nb, lane, e) >= valid_keys) s[rb][nb][e] = -INFINITY;
}

// Online softmax over one S tile in the accumulator layout (this thread: rows g and g + 8 of each
// row block, n8 column blocks nb; ptx_common.cuh). Leaves p = exp2((s - m)·scale·log2e) in s,
// with m the running base (raw scores), and accumulates the partial sums l. Returns whether the
// base moved for this warp's rows; corr then holds the factors O must be scaled by.
template <int kRowBlocks>
__device__ __forceinline__ bool online_softmax(float (&s)[kRowBlocks][kKeyBlocks][4],
                                               float (&m)[kRowBlocks][2], float (&l)[kRowBlocks][2],
                                               float (&corr)[kRowBlocks][2], float scale_log2) {
  float mx[kRowBlocks][2];
  bool grows = false;
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[rb][r] = row_max<kKeyBlocks>([&](int nb, int j) -> float& { return s[rb][nb][2 * r + j]; },
                                      m[rb][r]);
      grows |= outgrows_base(mx[rb][r], m[rb][r], scale_log2);
    }
  const bool rebase = __any_sync(0xffffffff, grows);
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
    for (int r = 0; r < 2; ++r)
      softmax_row_step<kKeyBlocks>([&](int nb, int j) -> float& { return s[rb][nb][2 * r + j]; },
                                   mx[rb][r], rebase, scale_log2, m[rb][r], l[rb][r], corr[rb][r]);
  return rebase;
}

template <int kRowBlocks>
__device__ __forceinline__ void rescale(float (&o)[kRowBlocks][kDimBlocks][4],
                                        const float (&corr)[kRowBlocks][2]) {
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
    for (int db = 0; db < kDimBlocks; ++db)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[rb][db][e] *= corr[rb][e / 2];
}

// The accumulators of n8 blocks 2·kk and 2·kk + 1 are exactly the A fragment of k16 step kk
// (d[0..1] of block 2kk = a[0], d[2..3] = a[1], block 2kk + 1 gives a[2], a[3]; PTX ISA "Matrix
// Fragments for mma.m16n8k16"), so P needs no shuffles: just bf16 packing.
template <int kRowBlocks>
__device__ __forceinline__ void scores_to_operand(const float (&s)[kRowBlocks][kKeyBlocks][4],
                                                  uint32_t (&p)[kRowBlocks][kKeySteps][4]) {
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
    for (int kk = 0; kk < kKeySteps; ++kk) {
      p[rb][kk][0] = pack_bf16x2(s[rb][2 * kk][0], s[rb][2 * kk][1]);
      p[rb][kk][1] = pack_bf16x2(s[rb][2 * kk][2], s[rb][2 * kk][3]);
      p[rb][kk][2] = pack_bf16x2(s[rb][2 * kk + 1][0], s[rb][2 * kk + 1][1]);
      p[rb][kk][3] = pack_bf16x2(s[rb][2 * kk + 1][2], s[rb][2 * kk + 1][3]);
    }
}

// kSparse: the key tiles of query tile i are p.selected[b, h, i / q_tiles_per_row, 0 .. topk) (64
// keys each, the first tile_sizes[j] valid) instead of all of them; the query tile is 64 rows.
template <int kRowBlocks, bool kSparse>
__global__ void __launch_bounds__(kThreads, 2) attention_portable_kernel(const PortableParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  using Tile = QueryTile<kRowBlocks>;
  constexpr int kBlockM = Tile::kBlockM, kWarpRows = Tile::kWarpRows;
  extern __shared__ __align__(128) uint8_t smem_raw[];
  const uint32_t q_tile = (smem_u32(smem_raw) + kAlign - 1) & ~(kAlign - 1);
  uint8_t* const smem = smem_raw + (q_tile - smem_u32(smem_raw));
  const auto k_tile = [&](int stage) { return q_tile + Tile::kQBytes + stage * kKvBytes; };
  const auto v_tile = [&](int stage) { return q_tile + Tile::kQBytes + (2 + stage) * kKvBytes; };

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int q_tiles = (p.seq_q + kBlockM - 1) / kBlockM;
  const int q_index = int(blockIdx.x % q_tiles), q0 = q_index * kBlockM;
  const int head = int(blockIdx.x / q_tiles) % p.heads, batch = int(blockIdx.x / q_tiles) / p.heads;
  const uint32_t row_stride = uint32_t(p.heads) * kHeadDim;
  const __nv_bfloat16* q_rows = p.q + (int64_t(batch) * p.seq_q * p.heads + head) * kHeadDim;
  const __nv_bfloat16* k_rows = p.k + (int64_t(batch) * p.seq_k * p.heads + head) * kHeadDim;
  const __nv_bfloat16* v_rows = p.v + (int64_t(batch) * p.seq_k * p.heads + head) * kHeadDim;
  const int selection_rows = kSparse ? (q_tiles + p.q_tiles_per_row - 1) / p.q_tiles_per_row : 0;
  const int32_t* selected =
      kSparse ? p.selected + ((int64_t(batch) * p.heads + head) * selection_rows +
                              q_index / p.q_tiles_per_row) *
                                 p.topk
              : nullptr;
  const int kv_steps = kSparse ? p.topk : (p.seq_k + kBlockN - 1) / kBlockN;
  // Step j's first key and its valid keys (1 .. kBlockN).
  const auto kv_start = [&](int j) { return kSparse ? selected[j] * kBlockN : j * kBlockN; };
  const auto kv_valid = [&](int j) {
    const int tile = kSparse ? selected[j] : j;
    return kSparse && p.tile_sizes != nullptr ? p.tile_sizes[tile]
                                              : min(kBlockN, p.seq_k - tile * kBlockN);
  };

  load_tile<kBlockM>(q_tile, q_rows + int64_t(q0) * row_stride, row_stride, p.seq_q - q0, tid);
  int start = kv_start(0), valid = kv_valid(0);
  load_tile<kBlockN>(k_tile(0), k_rows + int64_t(start) * row_stride, row_stride, valid, tid);
  load_tile<kBlockN>(v_tile(0), v_rows + int64_t(start) * row_stride, row_stride, valid, tid);
  cp_async_commit();

  float o[kRowBlocks][kDimBlocks][4];
  float m[kRowBlocks][2], l[kRowBlocks][2];
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb) {
#pragma unroll
    for (int db = 0; db < kDimBlocks; ++db)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[rb][db][e] = 0.f;
    m[rb][0] = m[rb][1] = -INFINITY;
    l[rb][0] = l[rb][1] = 0.f;
  }
  const uint32_t q_lane = lane_address(q_tile, warp * kWarpRows + lane % 16, lane / 16);
  const uint32_t k_lane = lane_address(k_tile(0), (lane % 8) + 8 * (lane / 16), (lane / 8) % 2);
  const uint32_t v_lane = lane_address(v_tile(0), lane % 16, lane / 16);

  for (int j = 0; j < kv_steps; ++j) {
    const int stage = j % 2;
    const int this_valid = valid;
    cp_async_wait<0>();  // K_j and V_j (and, for j = 0, Q) have landed
    __syncthreads();     // ... for every thread's copies; everyone is done with stage `stage ^ 1`
    if (j + 1 < kv_steps) {
      start = kv_start(j + 1);
      valid = kv_valid(j + 1);
      const int64_t offset = int64_t(start) * row_stride;
      load_tile<kBlockN>(k_tile(stage ^ 1), k_rows + offset, row_stride, valid, tid);
      load_tile<kBlockN>(v_tile(stage ^ 1), v_rows + offset, row_stride, valid, tid);
    }
    cp_async_commit();

    float s[kRowBlocks][kKeyBlocks][4];
    // Recomputed per tile from an opaque copy: hoisted out of the loop, the eight XOR-ed Q
    // addresses would hold registers the accumulators need.
    uint32_t q_tile_lane = q_lane;
    asm volatile("" : "+r"(q_tile_lane));
    qk_gemm(s, q_tile_lane, k_lane + stage * kKvBytes);
    if (this_valid < kBlockN) mask_keys(s, this_valid, lane);
    float corr[kRowBlocks][2];
    const bool rebased = online_softmax(s, m, l, corr, p.scale_log2);
    uint32_t pf[kRowBlocks][kKeySteps][4];
    scores_to_operand(s, pf);
    if (rebased) rescale(o, corr);
    pv_gemm(o, pf, v_lane + stage * kKvBytes);
  }

  // Epilogue. Each warp only ever read its own rows of the Q tile, so it may overwrite them with
  // its output rows without waiting for the other warps.
  const int g = lane / 4, t = lane % 4;
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float sum = quad_sum(l[rb][r]);
      const float inv = sum > 0.f ? 1.f / sum : 0.f;
      const int row = warp * kWarpRows + rb * 16 + g + 8 * r;
#pragma unroll
      for (int db = 0; db < kDimBlocks; ++db)
        *reinterpret_cast<uint32_t*>(smem + swizzled(row, db) + 4 * t) =
            pack_bf16x2(o[rb][db][2 * r] * inv, o[rb][db][2 * r + 1] * inv);
      const int q = q0 + row;
      if (p.lse != nullptr && t == 0 && q < p.seq_q)
        p.lse[(int64_t(batch) * p.heads + head) * p.seq_q + q] = m[rb][r] * p.scale + logf(sum);
    }
  __syncwarp();
  __nv_bfloat16* out_rows = p.out + (int64_t(batch) * p.seq_q * p.heads + head) * kHeadDim;
  constexpr int kRowsPerPass = 32 / kRowChunks;
#pragma unroll
  for (int i = 0; i < kWarpRows / kRowsPerPass; ++i) {
    const int row = warp * kWarpRows + i * kRowsPerPass + lane / kRowChunks;
    const int chunk = lane % kRowChunks;
    const int q = q0 + row;
    if (q < p.seq_q)
      *reinterpret_cast<uint4*>(out_rows + int64_t(q) * row_stride + chunk * 8) =
          *reinterpret_cast<const uint4*>(smem + swizzled(row, chunk));
  }
#endif
}

template <int kRowBlocks, bool kSparse>
void prepare_variant() {
  const auto kernel = attention_portable_kernel<kRowBlocks, kSparse>;
  FV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     int(QueryTile<kRowBlocks>::kSmemBytes)));
  // Two CTAs per SM need the largest shared-memory carveout of the unified L1/shared storage.
  FV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                     int(cudaSharedmemCarveoutMaxShared)));
}

void prepare_portable() { prepare_variant<kDenseRowBlocks, false>(); }

// One CTA per 128-row query tile of every (batch, head).
int portable_grid(const FlashAttentionPlan& plan, int) {
  constexpr int kBlockM = QueryTile<kDenseRowBlocks>::kBlockM;
  return int(plan.batch * plan.heads * ((plan.q_len + kBlockM - 1) / kBlockM));
}

PortableParams params_for(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                          const Tensor& out, float* lse) {
  PortableParams p{};
  p.q = q.data<__nv_bfloat16>();
  p.k = k.data<__nv_bfloat16>();
  p.v = v.data<__nv_bfloat16>();
  p.out = out.data<__nv_bfloat16>();
  p.lse = lse;
  p.heads = int(q.size(2));
  p.seq_q = int(q.size(1));
  p.seq_k = int(k.size(1));
  p.scale = scale;
  p.scale_log2 = scale * kLog2e;
  return p;
}

void launch_portable(const FlashAttentionPlan& plan, const Tensor& q, const Tensor& k,
                     const Tensor& v, float scale, const Tensor& out, float* lse) {
  attention_portable_kernel<kDenseRowBlocks, false>
      <<<unsigned(plan.grid), kThreads, QueryTile<kDenseRowBlocks>::kSmemBytes,
         CudaContext::get(plan.device).stream()>>>(params_for(q, k, v, scale, out, lse));
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace

void portable_block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                     const Tensor& selected, const Tensor& tile_sizes,
                                     float scale, const Tensor& out, int q_tiles_per_row) {
  static PerDeviceOnce prepared;
  prepared(q.device().index, [] { prepare_variant<kSparseRowBlocks, true>(); });
  FV_CHECK(q_tiles_per_row >= 1, "block-sparse attention: ", q_tiles_per_row,
           " query tiles per selection row");
  PortableParams p = params_for(q, k, v, scale, out, nullptr);
  p.selected = selected.data<int32_t>();
  p.tile_sizes = tile_sizes.defined() ? tile_sizes.data<int32_t>() : nullptr;
  p.topk = int(selected.size(3));
  p.q_tiles_per_row = q_tiles_per_row;
  const int64_t grid = q.size(0) * q.size(2) * ((q.size(1) + kBlockN - 1) / kBlockN);
  attention_portable_kernel<kSparseRowBlocks, true>
      <<<unsigned(grid), kThreads, QueryTile<kSparseRowBlocks>::kSmemBytes,
         CudaContext::get(q.device().index).stream()>>>(p);
  FV_CUDA_CHECK_LAUNCH();
}

const FlashKernel& portable_flash_kernel() {
  static const FlashKernel kernel{
      "the portable kernel",  8, 0, false, QueryTile<kDenseRowBlocks>::kSmemBytes, prepare_portable,
      portable_grid,
      launch_portable};
  return kernel;
}

}  // namespace fastvideo::ops::cuda
