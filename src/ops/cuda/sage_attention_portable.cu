// SAGE_ATTN's portable kernel (any sm_80+: A100, L40S, RTX 30xx/40xx; on H100/H200 only when asked
// for): the contract of ops/sage_attention.h (steps 3, 4 and 6) with the portable recipes (softmax
// blocks of 64 keys; P̃ and V in E4M3 or FP16: sage_recipe), on warp-level mma.sync, reading the
// pre-pass's INT8 Q and K and Vᵀ (ops/cuda/sage_kernels.h), with cp.async double-buffering as in
// the portable FLASH_ATTN kernel (flash_attention_portable.cu), whose warp shape it shares.
//
// Tile shape: 128 query rows x 64 keys per softmax step, head dim 128.
// CTA:        4 warps; warp w owns query rows 32w .. 32w + 31, two m16 row blocks, each one 16-row
//             slab of the contract's Query groups (rows i and i + 8 share a scale, as lane l holds
//             rows l/4 and l/4 + 8 of the m16n8 accumulators), for the whole key loop: no
//             cross-warp reduction. Two row blocks per warp make each K and Vᵀ fragment read from
//             shared memory feed two MMAs; with 16-row warps (this kernel's first shape) the
//             ldmatrix reads took about as many cycles as the MMAs (docs/perf.md). 32 rows x 128
//             keys of S would not fit beside O in the registers, hence the 64-key softmax blocks.
// Shared:     Q (128 rows x 128 int8, 16 KiB, loaded once: in registers, 32 of them, it made
//             ptxas spill), and per stage FP16 P̃·V: 64 keys, K 8 KiB + Vᵀ 16 KiB (128 channels x
//             64 keys); FP8 P̃·V: 128 keys (two softmax steps), K 16 KiB + Vᵀ 16 KiB. Vᵀ rows are
//             128 bytes either way. Rows are 16-byte chunks, chunk c of row r stored at c ^ (r %
//             8): the 8 row addresses of an ldmatrix matrix and the chunks a quarter-warp copies
//             with cp.async hit distinct bank groups. Q and two stages: 64 KiB (FP16) or 80 KiB
//             (FP8), so two CTAs (8 warps, what the registers allow) share an SM on A100 and
//             H100/H200, but only one fits sm_86/89's 100 KiB: L40S runs 4 warps per SM (the
//             first shape ran 8). Branch exp/sage-fp8-64 cuts the FP8 stage to 64 keys (48 KiB,
//             two CTAs there); it has not run on a GPU yet.
// Registers:  S / P̃ 64 (s32, then f32), O 128 (f32), Q's fragments of one k32 step 8, plus for
//             the FP8 P̃·V the temporary T of sixteen channels (16). ptxas (CUDA 13.0): 255 per
//             thread; FP16 variant 36 bytes spilled, FP8 variant 20 (sm_89), loop-invariant
//             values reloaded once per stage.
//
// Per stage j (n = ceil(Sk / stage keys); one cp.async group per thread and stage: {Q, K_0, Vᵀ_0}
// before the loop, then {K_{j+1}, Vᵀ_{j+1}}, empty past the end):
//   wait for this thread's copies; __syncthreads  (K_j and Vᵀ_j visible; every warp is done with
//                                                 the other stage, read in stage j - 1)
//   issue K_{j+1}, Vᵀ_{j+1} into the other stage  (they land during this stage's math)
//   per softmax step of 64 keys (one for FP16, two for FP8; none past Sk):
//   S = Q·Kᵀ by mma.sync m16n8k32 s8·s8 -> s32: exact;
//   S to f32 as 12582912 + S, exactly (|S| <= 128·127² < 2^22, so int + 0x4B400000 read as a float
//   is that: one integer add), the bias left in (kDotBias);
//   the thread's q_scale·k_scale is one number per row block (its rows share a Query group, its
//   columns 8nb + 2t, 8nb + 2t + 1 a Key group of the 128-key block: t = lane % 4), so the row max
//   of S is the max of the integer dots times that factor, reduced over the quad;
//   keys past Sk (last step only) masked as −∞;
//   online softmax in base 2 against the step's new running max m (the contract's step 4, no
//   threshold: P̃'s E4M3 rounding depends on the exact base): P̃ = exp2(dot·qk − m + log2 448)
//   as one FFMA of the biased S with the addend f32(log2 448 − m − 12582912·qk), which takes the
//   bias out: that addend's rounding moves every logit of the row by at most about qk, one unit of
//   the integer dot (~1e-4 base-2 units on DiT inputs, P̃ ×(1 ± 1e-4); INT8's own rounding moves a
//   logit by tens of units), where subtracting the bias from each S took one FADD per score; l =
//   l·corr + Σ f32 P̃; O rescaled by corr only when a row of the warp moved its max; FP16 P̃·V
//   (PvMma::F16, any sm_80+; the contract's FP16 recipe): P̃ packed to f16 pairs (one
//     cvt.rn per pair); the accumulators of n8 blocks 2kk, 2kk + 1 are the A fragment of k16
//     step kk in key order; the FP16 Vᵀ (f16(v / v_scale), keys in order) gives the B fragments
//     by plain ldmatrix. mma.sync m16n8k16 f16·f16 -> f32 straight into O: every product is the
//     recipe's f16(P̃)·f16(v) exactly and the f32 accumulation needs no second level (it differs
//     from the contract's two-level sum only in the order of f32 adds). Its first version rounded
//     P̃ to E4M3 here (the FP8 recipe's products on FP16 MMAs), which took six instructions per
//     value, a third of the loop's;
//   FP8 P̃·V (PvMma::E4m3, sm_89+): P̃ to E4M3 by cvt.rn.satfinite in the A layout of k32 steps
//     (four consecutive k per register: keys 2t, 2t+1, 8+2t, 9+2t of each 16, the sage_v_slot
//     order the pre-pass stored Vᵀ in, as for the Hopper kernel's wgmma), mma.sync m16n8k32
//     e4m3·e4m3 -> f32 into a zeroed temporary T, then O = O·corr + T (two-level accumulation:
//     Ada's FP8 MMA accumulates with fewer than f32's bits), sixteen channels at a time.
// Epilogue: O · v_scale[channel] / l (f32, as the contract's step 6), bf16 pairs, rows < Sq only.
//
// Tested by tests/cuda_sage_attention_test.cpp against the CPU contract (ops::cpu::sage_attention
// with the kernel's recipe), dense attention and the Hopper kernel.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cmath>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/ampere_ptx.cuh"
#include "ops/cuda/ptx_common.cuh"
#include "ops/cuda/sage_kernels.h"
#include "ops/sage_attention.h"

namespace fastvideo::ops::cuda {

namespace {

using namespace ampere;

// Which MMA runs P̃·V.
enum class PvMma { F16, E4m3 };

constexpr int kD = int(kSageHeadDim);
constexpr int kStepKeys = int(kSagePortableSoftmaxBlock);  // 64 keys per softmax step
constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kRowBlocks = 2;                // m16 row blocks per warp
constexpr int kWarpRows = 16 * kRowBlocks;   // 32
constexpr int kBlockM = kWarpRows * kWarps;  // query rows per CTA
constexpr int kKeyBlocks = kStepKeys / 8;    // n8 column blocks of S
constexpr int kDimBlocks = kD / 8;           // n8 column blocks of O
constexpr int kQkSteps = kD / 32;            // k32 steps of Q·Kᵀ
constexpr uint32_t kKRowBytes = kD;          // one key's (or query's) 128 int8 channels
constexpr uint32_t kQTileBytes = kBlockM * kKRowBytes;
constexpr uint32_t kAlign = 256;  // tiles start 256-byte aligned (see chunk_step)
static_assert(kD == 128 && kStepKeys == 64, "the fragment loops assume 128 channels, 64 keys");
static_assert(kBlockM % int(kSageQueryBlock) == 0, "a CTA holds whole Query-group blocks");

template <PvMma kPv>
struct PvShape {
  static constexpr int kStageKeys = kPv == PvMma::F16 ? 64 : 128;
  static constexpr int kSoftmaxSteps = kStageKeys / kStepKeys;  // softmax steps per stage
  static constexpr uint32_t kElementBytes = kPv == PvMma::F16 ? 2 : 1;
  static constexpr uint32_t kKTileBytes = kStageKeys * kKRowBytes;
  static constexpr uint32_t kVRowBytes = kStageKeys * kElementBytes;  // one channel's keys
  static constexpr uint32_t kVTileBytes = kD * kVRowBytes;
  // Q, K and Vᵀ (two stages each), and the alignment slack.
  static constexpr size_t kSmemBytes = kAlign + kQTileBytes + 2 * (kKTileBytes + kVTileBytes);
  static_assert(kVRowBytes == 128, "Vᵀ rows are 8 chunks (chunk_step's x <= 3)");
  static_assert(int(kSageKeyBlock) % kStageKeys == 0, "a stage lies in one Key-group block");
};
static_assert(2 * PvShape<PvMma::F16>::kSmemBytes <= 164 * 1024, "two CTAs per A100 SM");
static_assert(PvShape<PvMma::E4m3>::kSmemBytes <= 99 * 1024, "fits sm_89's 99 KiB per block");
static_assert(2 * PvShape<PvMma::E4m3>::kSmemBytes <= 228 * 1024, "two CTAs per H100 SM");

struct PortableSageParams {
  const int8_t* q;        // [B, Sq, H, 128]
  const int8_t* k;        // [B, Sk, H, 128]
  const uint8_t* v;       // Vᵀ [B, H, 128, s_pad], f16 or E4M3 elements
  const float* q_scales;  // [B, H, q_scale_count]
  const float* k_scales;  // [B, H, k_scale_count]
  const float* v_scales;  // [B, H, 128]
  __nv_bfloat16* out;     // [B, Sq, H, 128]
  int heads, seq_q, seq_k, s_pad, q_scale_count, k_scale_count;
};

// Byte offset of logical 16-byte chunk `chunk` of row `row` in a swizzled tile of kRowBytes rows.
template <uint32_t kRowBytes>
__device__ __forceinline__ uint32_t swizzled(int row, int chunk) {
  return uint32_t(row) * kRowBytes + (uint32_t(chunk ^ (row % 8)) << 4);
}

// Starts the copy of kRows rows of kRowBytes bytes into a swizzled tile. `src` points at the first
// row, consecutive rows `stride` bytes apart; rows at or past `rows_left` are zero-filled (no bytes
// read), so keys past the sequence give zero dot products before they are masked. Thread tid copies
// chunk tid % chunks of rows tid / chunks + kRowStep·i, all in one swizzle phase.
template <int kRows, uint32_t kRowBytes>
__device__ __forceinline__ void load_tile(uint32_t tile, const uint8_t* src, int64_t stride,
                                          int rows_left, int tid) {
  constexpr int kChunks = int(kRowBytes / 16);
  constexpr int kRowStep = kThreads / kChunks;
  static_assert(kRows % kRowStep == 0 && kRowStep % 8 == 0, "one swizzle phase per thread");
  const int row = tid / kChunks, chunk = tid % kChunks;
  src += row * stride + chunk * 16;
  const uint32_t dst = tile + swizzled<kRowBytes>(row, chunk);
#pragma unroll
  for (int i = 0; i < kRows / kRowStep; ++i)
    cp_async_cg_16(dst + i * kRowStep * kRowBytes, src + i * kRowStep * stride,
                   row + i * kRowStep < rows_left ? 16u : 0u);
}

// ldmatrix addressing (flash_attention_portable.cu's scheme). An x4 load takes 16 rows x 2 chunks:
// matrices (rows 0-7, chunk 2x), (rows 0-7, chunk 2x + 1), (rows 8-15, chunk 2x), (rows 8-15,
// chunk 2x + 1), so lane l addresses row (l % 8) + 8·(l / 16), chunk 2x + (l / 8) % 2, and gets
// the B fragments b0, b1 of the n8 block of rows 0-7 and b0, b1 of rows 8-15 (rows are K's keys or
// Vᵀ's channels; each row is contiguous in k). Every row a lane addresses is congruent to l % 8
// mod 8, and tiles start 256-byte aligned, so logical chunk 2x + c0 sits at physical chunk
// (c0 ^ (l % 8)) ^ 2x: chunk_step reaches step x <= 3 from the lane's address of step 0 with one
// XOR (128-byte rows).
__device__ __forceinline__ uint32_t lane_address(uint32_t tile, int lane) {
  return tile + swizzled<128>((lane % 8) + 8 * (lane / 16), (lane / 8) % 2);
}
__device__ __forceinline__ uint32_t chunk_step(uint32_t address, int x) {
  return address ^ uint32_t(x << 5);
}

// The lane's ldmatrix address for the A fragments of the warp's first row block: an x4 load of k32
// step x (chunk_step) gives matrices (rows 0-7, chunk 2x), (rows 8-15, chunk 2x), (rows 0-7,
// chunk 2x + 1), (rows 8-15, chunk 2x + 1), which are registers a0..a3 of m16n8k32: lane (g, t)
// holds bytes 4t.. of rows g and g + 8 in each 16-byte half. Row l % 8 mod 8, as lane_address.
__device__ __forceinline__ uint32_t q_lane_address(uint32_t q_tile, int warp, int lane) {
  return q_tile + swizzled<128>(kWarpRows * warp + (lane % 8) + 8 * ((lane / 8) % 2), lane / 16);
}

// S[32 x 64] = Q[this warp's rows] · K[64 keys from k_lane's]ᵀ in s32 (exact). Q's fragments come
// from shared memory each step: in registers (32 of them) they made ptxas spill.
__device__ __forceinline__ void qk_gemm(int (&s)[kRowBlocks][kKeyBlocks][4], uint32_t q_lane,
                                        uint32_t k_lane) {
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
    for (int nb = 0; nb < kKeyBlocks; ++nb)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[rb][nb][e] = 0;
#pragma unroll
  for (int kk = 0; kk < kQkSteps; ++kk) {
    uint32_t qa[kRowBlocks][4];
#pragma unroll
    for (int rb = 0; rb < kRowBlocks; ++rb)
      ldmatrix_x4(qa[rb], chunk_step(q_lane, kk) + rb * 16 * kKRowBytes);
#pragma unroll
    for (int np = 0; np < kKeyBlocks / 2; ++np) {
      uint32_t b[4];
      ldmatrix_x4(b, chunk_step(k_lane, kk) + np * 16 * kKRowBytes);
#pragma unroll
      for (int rb = 0; rb < kRowBlocks; ++rb) {
        mma_m16n8k32_s8(s[rb][2 * np], qa[rb], b[0], b[1]);
        mma_m16n8k32_s8(s[rb][2 * np + 1], qa[rb], b[2], b[3]);
      }
    }
  }
}

__device__ __forceinline__ uint32_t pack_f16x2(float lo, float hi) {
  __half2 v = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// The f32 value of integer dot S read from the bits of S + 0x4B400000 is kDotBias + S.
constexpr float kDotBias = 12582912.f;  // 1.5 · 2^23

// Step 4 for one row block's 16 x 64 scores s (kDotBias + dot as f32; −∞ where masked),
// dequantized by the thread's factor qk: the running max m and sum l of its rows g, g + 8, the
// rescale corr of O, and P̃ in place of s. Returns whether a row moved its max.
__device__ __forceinline__ bool softmax_step(float (&s)[kKeyBlocks][4], float qk, float (&m)[2],
                                             float (&l)[2], float (&corr)[2]) {
  bool grows = false;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = -INFINITY;
#pragma unroll
    for (int nb = 0; nb < kKeyBlocks; ++nb) mx = fmaxf(mx, fmaxf(s[nb][2 * r], s[nb][2 * r + 1]));
    mx = fmaxf(m[r], quad_max((mx - kDotBias) * qk));  // the exact dot, then scaled
    const bool row_grows = mx > m[r];
    corr[r] = row_grows ? exp2_approx(m[r] - mx) : 1.f;  // 0 on the first step (m = −∞)
    grows |= row_grows;
    m[r] = mx;
    const float addend = fmaf(-kDotBias, qk, kSageLog2PMax - mx);
    float sum = 0.f;
#pragma unroll
    for (int nb = 0; nb < kKeyBlocks; ++nb)
#pragma unroll
      for (int e = 2 * r; e < 2 * r + 2; ++e) {
        s[nb][e] = exp2_approx(fmaf(s[nb][e], qk, addend));
        sum += s[nb][e];
      }
    l[r] = l[r] * corr[r] + sum;  // the unrounded P̃
  }
  return grows;
}

// One CTA: query tile (128 rows) of one (batch, head), the key loop and the epilogue.
template <PvMma kPv>
__device__ __forceinline__ void attend(const PortableSageParams& p, uint8_t* smem_raw) {
  using Shape = PvShape<kPv>;
  const uint32_t q_tile = (smem_u32(smem_raw) + kAlign - 1) & ~(kAlign - 1);
  const uint32_t k_tile = q_tile + kQTileBytes;
  const uint32_t v_tile = k_tile + 2 * Shape::kKTileBytes;

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int q_tiles = (p.seq_q + kBlockM - 1) / kBlockM;
  const int q_index = int(blockIdx.x % q_tiles), q0 = q_index * kBlockM;
  const int bh = int(blockIdx.x / q_tiles), head = bh % p.heads, batch = bh / p.heads;
  const int stages = (p.seq_k + Shape::kStageKeys - 1) / Shape::kStageKeys;
  const int64_t k_stride = int64_t(p.heads) * kD;  // bytes between keys
  const uint8_t* k_rows =
      reinterpret_cast<const uint8_t*>(p.k) + int64_t(batch) * p.seq_k * k_stride + head * kD;
  const int64_t v_stride = int64_t(p.s_pad) * Shape::kElementBytes;  // bytes between channels
  const uint8_t* v_rows = p.v + int64_t(bh) * kD * v_stride;
  // Stage j: its K rows (zero past Sk) and its keys of every Vᵀ row (the pre-pass pads Vᵀ to whole
  // 128-key blocks with zeros).
  const auto load_stage = [&](int j, int buffer) {
    load_tile<Shape::kStageKeys, kKRowBytes>(k_tile + buffer * Shape::kKTileBytes,
                                             k_rows + j * Shape::kStageKeys * k_stride, k_stride,
                                             p.seq_k - j * Shape::kStageKeys, tid);
    load_tile<kD, Shape::kVRowBytes>(v_tile + buffer * Shape::kVTileBytes,
                                     v_rows + j * Shape::kVRowBytes, v_stride, kD, tid);
  };
  // Q's rows (zero past Sq) go with the first stage.
  load_tile<kBlockM, kKRowBytes>(q_tile,
                                 reinterpret_cast<const uint8_t*>(p.q) +
                                     (int64_t(batch) * p.seq_q + q0) * k_stride + head * kD,
                                 k_stride, p.seq_q - q0, tid);
  load_stage(0, 0);
  cp_async_commit();

  const int row0 = q0 + kWarpRows * warp;
  // The thread's Query groups (rows g, g + 8 of each row block's slab: sage_query_scale_index; a
  // slab wholly past the sequence may lie past the last 64-row block's scales, and its rows are
  // zero) and the start of its Key groups (t = lane % 4 of each block: sage_key_scale_index).
  float q_scale[kRowBlocks];
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
    q_scale[rb] = row0 + 16 * rb < p.seq_q
                      ? p.q_scales[int64_t(bh) * p.q_scale_count + (row0 / 16 + rb) * 8 + lane / 4]
                      : 1.f;
  const float* k_scales = p.k_scales + int64_t(bh) * p.k_scale_count + lane % 4;

  float o[kRowBlocks][kDimBlocks][4];
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
    for (int db = 0; db < kDimBlocks; ++db)
#pragma unroll
      for (int e = 0; e < 4; ++e) o[rb][db][e] = 0.f;
  float m[kRowBlocks][2], l[kRowBlocks][2];
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
    m[rb][0] = m[rb][1] = -INFINITY, l[rb][0] = l[rb][1] = 0.f;
  const uint32_t q_lane = q_lane_address(q_tile, warp, lane);
  const uint32_t k_lane = lane_address(k_tile, lane);
  const uint32_t v_lane = lane_address(v_tile, lane);

  for (int j = 0; j < stages; ++j) {
    const int buffer = j % 2;
    cp_async_wait<0>();  // K_j and Vᵀ_j have landed (this thread's copies) ...
    __syncthreads();     // ... and everyone's; every warp is done with the other buffer
    if (j + 1 < stages) load_stage(j + 1, buffer ^ 1);
    cp_async_commit();
    const float k_scale = k_scales[4 * (j * Shape::kStageKeys / int(kSageKeyBlock))];

#pragma unroll
    for (int step = 0; step < Shape::kSoftmaxSteps; ++step) {
      const int key0 = j * Shape::kStageKeys + step * kStepKeys;
      if (key0 >= p.seq_k) break;  // the stage's second step lies past Sk
      // Step 3: exact integer dot products, as f32 with kDotBias added.
      int acc[kRowBlocks][kKeyBlocks][4];
      qk_gemm(acc, q_lane, k_lane + buffer * Shape::kKTileBytes + step * kStepKeys * kKRowBytes);
      float s[kRowBlocks][kKeyBlocks][4];
#pragma unroll
      for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
        for (int nb = 0; nb < kKeyBlocks; ++nb)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            s[rb][nb][e] = __int_as_float(acc[rb][nb][e] + 0x4B400000);  // kDotBias + dot
      const int valid = p.seq_k - key0;  // keys of this step inside the sequence
      if (valid < kStepKeys) {
#pragma unroll
        for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
          for (int nb = 0; nb < kKeyBlocks; ++nb)
#pragma unroll
            for (int e = 0; e < 4; ++e)
              if (accumulator_column(nb, lane, e) >= valid) s[rb][nb][e] = -INFINITY;
      }

      // Step 4: the step's max (dots times the thread's positive factor keep their order), the
      // rescale, and P̃ against the new max.
      // The factor at least FLT_MIN: a product that underflows to 0 (q and k near 1e-22) would
      // turn a masked key's −∞ into −∞ · 0 = NaN; at FLT_MIN every scaled dot is below 1e-31,
      // the same uniform P̃ as 0 gives.
      float corr[kRowBlocks][2];
      bool grows = false;
#pragma unroll
      for (int rb = 0; rb < kRowBlocks; ++rb)
        grows |= softmax_step(s[rb], fmaxf(q_scale[rb] * k_scale, FLT_MIN), m[rb], l[rb], corr[rb]);

      if constexpr (kPv == PvMma::F16) {
        // P̃ rounded to f16 (the FP16 recipe), as A fragments of the k16 steps (keys in order).
        constexpr int kPvSteps = kStepKeys / 16;
        uint32_t pf[kRowBlocks][kPvSteps][4];
#pragma unroll
        for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
          for (int kk = 0; kk < kPvSteps; ++kk) {
            const float(&b0)[4] = s[rb][2 * kk];
            const float(&b1)[4] = s[rb][2 * kk + 1];
            pf[rb][kk][0] = pack_f16x2(b0[0], b0[1]);
            pf[rb][kk][1] = pack_f16x2(b0[2], b0[3]);
            pf[rb][kk][2] = pack_f16x2(b1[0], b1[1]);
            pf[rb][kk][3] = pack_f16x2(b1[2], b1[3]);
          }
        if (__any_sync(0xffffffffu, grows)) {
#pragma unroll
          for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
            for (int db = 0; db < kDimBlocks; ++db)
#pragma unroll
              for (int e = 0; e < 4; ++e) o[rb][db][e] *= corr[rb][e / 2];
        }
        // O += P̃·V: B fragments (keys 16kk + 2t.., channel g of n8 blocks 2dp, 2dp + 1) by
        // ldmatrix of Vᵀ's channel rows, each feeding both row blocks.
        const uint32_t v_stage = v_lane + buffer * Shape::kVTileBytes;
#pragma unroll
        for (int kk = 0; kk < kPvSteps; ++kk)
#pragma unroll
          for (int dp = 0; dp < kDimBlocks / 2; ++dp) {
            uint32_t b[4];
            ldmatrix_x4(b, chunk_step(v_stage, kk) + dp * 16 * Shape::kVRowBytes);
#pragma unroll
            for (int rb = 0; rb < kRowBlocks; ++rb) {
              mma_m16n8k16_f16(o[rb][2 * dp], pf[rb][kk], b[0], b[1]);
              mma_m16n8k16_f16(o[rb][2 * dp + 1], pf[rb][kk], b[2], b[3]);
            }
          }
      } else {
        // P̃ to E4M3 in the A layout of the k32 steps: step kk covers n8 blocks 4kk .. 4kk + 3;
        // registers 0/1 (rows g, g + 8) take blocks 4kk, 4kk + 1, registers 2/3 blocks 4kk + 2,
        // 4kk + 3, so a register's four keys are 2t, 2t + 1, 8 + 2t, 9 + 2t of a 16 (sage_v_slot).
        constexpr int kPvSteps = kStepKeys / 32;
        uint32_t pf[kRowBlocks][kPvSteps][4];
#pragma unroll
        for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
          for (int kk = 0; kk < kPvSteps; ++kk) {
            const float(&b0)[4] = s[rb][4 * kk];
            const float(&b1)[4] = s[rb][4 * kk + 1];
            const float(&b2)[4] = s[rb][4 * kk + 2];
            const float(&b3)[4] = s[rb][4 * kk + 3];
            pf[rb][kk][0] = pack_e4m3x4(b0[0], b0[1], b1[0], b1[1]);
            pf[rb][kk][1] = pack_e4m3x4(b0[2], b0[3], b1[2], b1[3]);
            pf[rb][kk][2] = pack_e4m3x4(b2[0], b2[1], b3[0], b3[1]);
            pf[rb][kk][3] = pack_e4m3x4(b2[2], b2[3], b3[2], b3[3]);
          }
        // T = P̃·V in a zeroed temporary (B fragments: slots 32kk + 4t.., channel g, from the
        // step's 64-key half of the Vᵀ rows), then O = O·corr + T (corr = 1 for rows whose max
        // stayed). Sixteen channels (two n8 blocks) at a time, both row blocks on each fragment:
        // a wider T made ptxas spill.
        const uint32_t v_stage = v_lane + buffer * Shape::kVTileBytes;
#pragma unroll
        for (int dp = 0; dp < kDimBlocks / 2; ++dp) {
          float tmp[kRowBlocks][2][4];
#pragma unroll
          for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
            for (int e = 0; e < 8; ++e) tmp[rb][e / 4][e % 4] = 0.f;
#pragma unroll
          for (int kk = 0; kk < kPvSteps; ++kk) {
            uint32_t b[4];
            ldmatrix_x4(b, chunk_step(v_stage, 2 * step + kk) + dp * 16 * Shape::kVRowBytes);
#pragma unroll
            for (int rb = 0; rb < kRowBlocks; ++rb) {
              mma_m16n8k32_e4m3(tmp[rb][0], pf[rb][kk], b[0], b[1]);
              mma_m16n8k32_e4m3(tmp[rb][1], pf[rb][kk], b[2], b[3]);
            }
          }
#pragma unroll
          for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
            for (int e = 0; e < 8; ++e) {
              float& out = o[rb][2 * dp + e / 4][e % 4];
              out = fmaf(out, corr[rb][e % 4 / 2], tmp[rb][e / 4][e % 4]);
            }
        }
      }
    }
  }

  // Step 6: O · v_scale / l in f32, bf16 pairs (4 lanes cover 8 channels of a row).
  const float* v_scales = p.v_scales + int64_t(bh) * kD + 2 * (lane % 4);
#pragma unroll
  for (int rb = 0; rb < kRowBlocks; ++rb)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float sum = quad_sum(l[rb][r]);
      const int q = row0 + 16 * rb + lane / 4 + 8 * r;
      if (q >= p.seq_q) continue;
      __nv_bfloat16* out =
          p.out + ((int64_t(batch) * p.seq_q + q) * p.heads + head) * kD + 2 * (lane % 4);
#pragma unroll
      for (int db = 0; db < kDimBlocks; ++db) {
        const float2 vs = *reinterpret_cast<const float2*>(v_scales + 8 * db);
        *reinterpret_cast<uint32_t*>(out + 8 * db) =
            pack_bf16x2(o[rb][db][2 * r] * vs.x / sum, o[rb][db][2 * r + 1] * vs.y / sum);
      }
    }
}

// The FP8 variant exists only where its instructions do (sm_89+ passes); elsewhere its body is
// empty and the host refuses to launch it (portable_sage_attention checks the compiled version).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
constexpr bool kHaveFp8Mma = true;
#else
constexpr bool kHaveFp8Mma = false;
#endif

// One CTA per 128-row query tile of every (batch, head), two per SM, query tile fastest (CTAs
// running together share K and Vᵀ in L2; no 65,535 limit on heads or batch).
template <PvMma kPv>
__global__ void __launch_bounds__(kThreads, 2)
    sage_attention_portable_kernel(const PortableSageParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  extern __shared__ __align__(128) uint8_t smem_raw[];
  if constexpr (kPv == PvMma::F16 || kHaveFp8Mma) attend<kPv>(p, smem_raw);
#endif
}

template <PvMma kPv>
void launch(const SageDeviceInputs& in, const Tensor& v, const Tensor& out) {
  const auto kernel = sage_attention_portable_kernel<kPv>;
  static const int ptx_version = [&] {
    FV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       int(PvShape<kPv>::kSmemBytes)));
    FV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                       int(cudaSharedmemCarveoutMaxShared)));
    cudaFuncAttributes attributes{};
    FV_CUDA_CHECK(cudaFuncGetAttributes(&attributes, kernel));
    return attributes.ptxVersion;
  }();
  // The FP8 body is compiled for sm_89 and sm_90a only (CMakeLists.txt); an sm_80 image running on
  // a newer GPU has it empty.
  FV_CHECK(kPv == PvMma::F16 || ptx_version >= 89,
           "SAGE_ATTN's portable kernel with FP8 P̃·V is not compiled for this GPU (its image is "
           "compute_",
           ptx_version, "; it needs compute_89 or newer)");
  PortableSageParams p{};
  p.q = static_cast<const int8_t*>(in.q_int8.raw_data());
  p.k = static_cast<const int8_t*>(in.k_int8.raw_data());
  p.v = static_cast<const uint8_t*>(v.raw_data());
  p.q_scales = in.q_scales.data<float>();
  p.k_scales = in.k_scales.data<float>();
  p.v_scales = in.v_scales.data<float>();
  p.out = out.data<__nv_bfloat16>();
  p.heads = int(in.q_int8.size(2));
  p.seq_q = int(in.q_int8.size(1));
  p.seq_k = int(in.k_int8.size(1));
  p.s_pad = int(v.size(3));
  p.q_scale_count = int(in.q_scales.size(2));
  p.k_scale_count = int(in.k_scales.size(2));
  const int64_t grid = in.q_int8.size(0) * p.heads * ((p.seq_q + kBlockM - 1) / kBlockM);
  FV_CHECK(grid <= int64_t(0x7fffffff), "SAGE_ATTN: ", grid, " query tiles are too many");
  sage_attention_portable_kernel<kPv><<<unsigned(grid), kThreads, PvShape<kPv>::kSmemBytes,
                                        CudaContext::get(out.device().index).stream()>>>(p);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace

void portable_sage_attention(const SageDeviceInputs& in, const Tensor& out) {
  if (in.v_f16_t.defined()) {
    launch<PvMma::F16>(in, in.v_f16_t, out);
    return;
  }
  const CudaDeviceInfo& info = CudaContext::get(out.device().index).info();
  sage_kernel_for(info.major, info.minor, SageKernel::PortableFp8, info.name);  // throws below 8.9
  launch<PvMma::E4m3>(in, in.v_fp8_t, out);
}

}  // namespace fastvideo::ops::cuda
