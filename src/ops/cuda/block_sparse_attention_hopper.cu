// Block-sparse attention on Hopper (sm_90a; vsa_fine_stage.h) over tiles of up to 64 rows: VSA's
// fine stage on the tiled copies (each tile's valid tokens first, tile_sizes of them) with its
// untiling fused into the epilogue, or on rows in tile order where they lie (tile i from row
// tile_starts[i]; rows a box reads past a tile's count are masked or dropped as padding is), and
// SLA's sparse branch on the raster tensors (only the last block partial). Its softmax and operand
// helpers are the FLASH_ATTN Hopper kernel's (hopper_attention.cuh). Keys past a tile's valid count
// are masked; the epilogue writes each valid query row to its token (VSA: token_of_slot), adding
// the gated coarse output. (VSA's tiles once loaded straight from the raster tensors as 5-D TMA
// boxes of 4×4×4 tokens, with no tiled copy: on an H100 that ran at 387–424 TFLOP/s on its blocks
// against 505–523 for the same blocks as 64 consecutive rows, which pays for the copies many times
// over; docs/perf.md, session 37.)
//
// Shape (FastVideo's ThunderKittens VSA kernel's, attention-algorithms.md §3.2): one warpgroup
//             per CTA on one 64-row query tile, walking that tile's list of `topk` selected key
//             tiles, 64 keys a step; four CTAs per SM (128 registers, 49 KiB of shared memory
//             each), whose warpgroups interleave on the tensor cores. (The previous shape, a
//             producer warpgroup and two consumers on a pair of query tiles taking turns, ran the
//             fine stage at 63 % of the dense kernel's rate: a 64-key step is too short for one
//             consumer's softmax to hide behind the other's GEMMs.) Each 32 KiB K/V step serves
//             64 query rows, twice the dense kernel's bytes per FLOP, and the walk is L2-bound
//             (ncu, H100: L2 87 %, tensor pipe 53 %; the dense kernel 59 % and 82 %). Four query
//             tiles walking the union of their selections in one CTA read 25 % fewer bytes but
//             ran 53-74 % slower (docs/perf.md, session 50; branch exp/vsa-shared-stages).
// Shared:     Q, K and V one 16 KiB tile each (TMA with 128-byte swizzle, two 64-column boxes per
//             tile), K and V single-buffered: thread 0 loads K_{j+1} once every warp's Q·K_jᵀ is
//             done (it lands during step j's softmax and P·V) and V_{j+1} once every warp's
//             P·V_j is done (it lands during step j+1's Q·Kᵀ and softmax). Occupancy matters
//             more than buffering here: K double-buffered at three CTAs per SM ran the fine stage
//             5-10 % slower, and K and V double-buffered at two CTAs with FlashAttention-3's order
//             (Q·K_jᵀ and P_{j-1}·V_{j-1} issued together) 30-35 % slower (H100, docs/perf.md
//             session 49).
// Per step:   S = Q·Kᵀ by wgmma m64n64k16 (both from shared memory); online softmax in base 2
//             with conditional rescale (keys outside the tokens masked); O += P·V by wgmma
//             m64n128k16 with P from registers.
// Two ways to walk a list (the launch picks one, vsa_packs_key_tiles):
//   tiles:    a step's 64 keys are one selected tile, padding rows of a partial tile included.
//             The list is read 32 entries at a time per warp and handed out by shuffle (no global
//             load or division per step). SLA's blocks and grids of whole tiles (FastWan's
//             448×832×61) take it.
//   stages:   a step's 64 keys are one stage: a whole key tile, or partial tiles packed together.
//             Each selected tile takes a box of 8, 16, 32 or 64 rows (its valid count rounded up
//             to a power of two), and a list ordered by box size, largest first
//             (order_by_box_kernel), fills each stage exactly, every box at a multiple of its own
//             size; rows past the list's last box are zeros (out-of-bounds loads). Each warp
//             reads the 32 entries from a stage's first a step ahead, and a warp scan of their box
//             sizes places them while the step before runs its Q·Kᵀ (3-4 % faster than before
//             it, docs/perf.md session 47). At 480×832×81, where a quarter of the tiles hold 8, 16
//             or 32 tokens, this cut the fine stage by 20-24 %; on whole tiles the per-step placing
//             cost 6 % (docs/perf.md, session 46).
// Epilogue:   each valid query row of O / l to its token, plus G ⊙ coarse (VSA).
//
// Tested by tests/cuda_video_sparse_attention_test.cpp against the VSA reference and the portable
// kernel (its odd grids take the stage walk, its whole-tile grids 8×8×8 and 4×4×12 the tile walk)
// and by SLA's tests (the tile walk over raster blocks).
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/hopper_attention.cuh"
#include "ops/cuda/vsa_fine_stage.h"

namespace fastvideo::ops::cuda {

namespace {

using namespace hopper;

constexpr int kHeadDim = 128;
constexpr int kTileRows = 64;  // a tile: the CTA's query rows, and the keys per step
constexpr int kThreads = 128;  // one warpgroup
constexpr int kCtasPerSm = 4;
constexpr uint32_t kTileBytes = kTileRows * kHeadDim * 2;  // 16 KiB
constexpr uint32_t kHalfBytes = kTileBytes / 2;            // one 64-column half
constexpr uint32_t kBarrierBytes = 64;
constexpr size_t kSmemBytes = 1024 /* alignment slack */ + 3 * kTileBytes + kBarrierBytes;
static_assert(kHalfBytes % 1024 == 0);
static_assert(kCtasPerSm * (kSmemBytes + 1024) <= 228 * 1024, "four CTAs must fit an SM");

struct SparseParams {
  __nv_bfloat16* out;             // [B, out_tokens, heads, D]
  const int32_t* selected;        // [B, heads, N / q_tiles_per_row, topk] tile indices (tiles)
  const int32_t* ordered;         // the same lists packed and ordered by box size (stages)
  const float* coarse;            // [B, N, heads, D] (VSA with a gate), or null
  const __nv_bfloat16* gate;      // [B, out_tokens, heads, D] or null (G = 0)
  const int32_t* tile_sizes;      // [N] valid rows of each tile (VSA), or null: 64 but the last
  const int32_t* tile_starts;     // [N] first row of each tile (VSA on rows in tile order), or
                                  // null: 64·tile
  const int32_t* token_of_slot;   // [64·N] output row of each input row (VSA), or null: the same
  int heads, tokens, out_tokens;  // rows of q, k, v and of out
  int num_tiles, topk;
  int q_tiles_per_row;  // query tiles sharing one selection row (SLA: 2)
  float scale_log2;
};

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

constexpr int kScoreRegs = kTileRows / 2;  // S accumulators per thread (64 x 64 / 128)
constexpr int kPSteps = kTileRows / 16;    // k16 steps of P·V
constexpr int kQSteps = kHeadDim / 16;     // k16 steps of Q·Kᵀ

// The CTA's query tile, head and batch item (query tile fastest, so CTAs running together share
// their heads' K and V in L2), and that tile's list of selected key tiles.
struct WorkTile {
  int tile, head, batch;
};

__device__ __forceinline__ WorkTile this_tile(const SparseParams& p) {
  const int t = blockIdx.x, rest = t / p.num_tiles;
  return {t % p.num_tiles, rest % p.heads, rest / p.heads};
}

__device__ __forceinline__ const int32_t* tile_list(const SparseParams& p, const int32_t* lists,
                                                    const WorkTile& w) {
  const int rows = (p.num_tiles + p.q_tiles_per_row - 1) / p.q_tiles_per_row;
  return lists +
         ((int64_t(w.batch) * p.heads + w.head) * rows + w.tile / p.q_tiles_per_row) * p.topk;
}

// Where a tile lies: its first row and how many of its rows are valid (1..64).
struct TileBox {
  int first, count;
  __device__ bool full() const { return count == 64; }
  __device__ bool holds(int r) const { return r < count; }  // row or key r (0..63) of the tile
};

// A tile in one int, its first row and valid count: first | count << 24 (the host checks that
// every row index is below 2^24).
__device__ __forceinline__ int tile_first_row(const SparseParams& p, int tile) {
  return p.tile_starts ? p.tile_starts[tile] : 64 * tile;
}
__device__ __forceinline__ int packed_tile_coords(const SparseParams& p, int tile) {
  const int count = p.tile_sizes ? p.tile_sizes[tile] : min(64, p.tokens - 64 * tile);
  return tile_first_row(p, tile) | count << 24;
}

__device__ __forceinline__ TileBox unpack_box(int packed) {
  return {packed & 0xffffff, packed >> 24};
}

__device__ __forceinline__ TileBox tile_box(const SparseParams& p, int tile) {
  return unpack_box(packed_tile_coords(p, tile));
}

// The selected-tile lists are read 32 entries at a time by a whole warp: lane l loads entry
// j0 + l and its tile's valid count, and each step takes its entry by a shuffle. So the thread
// that issues the TMA loads (and the consumers' masking) never waits on a global load per step.
constexpr int kWindow = 32;
__device__ __forceinline__ int list_window(const SparseParams& p, const int32_t* list, int j0,
                                           int lane) {
  const int j = j0 + lane;
  return packed_tile_coords(p, j < p.topk ? list[j] : 0);
}
__device__ __forceinline__ TileBox window_entry(int window, int j) {
  return unpack_box(__shfl_sync(0xffffffffu, window, j % kWindow));
}

// One stage of a list ordered by box size (largest first), seen by one warp: lane l holds entry
// first + l (its packed coordinates, box and row in the stage, `mine` when the stage holds it), and
// every lane the stage's valid-key mask, its entry count and the rows its boxes fill. Boxes of
// powers of two in falling order sit at multiples of their size and fill 64 rows exactly, but for
// the list's last stage.
struct Stage {
  int packed, box, row;
  bool mine;
  int entries, filled;
  uint32_t valid_lo, valid_hi;  // key rows 0-31 and 32-63
  __device__ bool full() const { return (valid_lo & valid_hi) == 0xffffffffu; }
  __device__ bool holds(int key) const {
    return ((key < 32 ? valid_lo : valid_hi) >> (key % 32)) & 1u;
  }
};

// Entry first + lane of a list, or -1 past its end (one coalesced load per warp).
__device__ __forceinline__ int list_entry(const int32_t* list, int first, int topk, int lane) {
  return first + lane < topk ? list[first + lane] : -1;
}

__device__ __forceinline__ Stage make_stage(int packed, int lane) {
  Stage st{};
  st.packed = packed;
  const int count = packed < 0 ? 0 : packed >> 24;
  st.box = count > 0 ? vsa_key_box_rows(count) : 0;
  int end = st.box;  // inclusive scan of the boxes
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const int x = __shfl_up_sync(0xffffffffu, end, o);
    if (lane >= o) end += x;
  }
  st.row = end - st.box;
  st.mine = st.box > 0 && st.row < 64;
  const uint64_t bits =
      st.mine ? (count == 64 ? ~uint64_t(0) : ((uint64_t(1) << count) - 1)) << st.row : 0;
  st.valid_lo = __reduce_or_sync(0xffffffffu, uint32_t(bits));
  st.valid_hi = __reduce_or_sync(0xffffffffu, uint32_t(bits >> 32));
  st.entries = __popc(__ballot_sync(0xffffffffu, st.mine));
  st.filled = int(__reduce_add_sync(0xffffffffu, st.mine ? uint32_t(st.box) : 0u));
  return st;
}

// A tensor's four TMA maps, boxes of 64, 32, 16 and 8 rows.
struct BoxMaps {
  const CUtensorMap* rows64;
  const CUtensorMap* rows32;
  const CUtensorMap* rows16;
  const CUtensorMap* rows8;
  __device__ const CUtensorMap* of(int rows) const {
    return rows == 64 ? rows64 : rows == 32 ? rows32 : rows == 16 ? rows16 : rows8;
  }
};

// [Q][K][V][barriers], tiles 1024-byte aligned, each two 64-column halves of 128-byte rows.
struct SmemMap {
  uint32_t base;
  __device__ uint32_t q() const { return base; }
  __device__ uint32_t k() const { return base + kTileBytes; }
  __device__ uint32_t v() const { return base + 2 * kTileBytes; }
  __device__ uint32_t q_full() const { return base + 3 * kTileBytes; }
  __device__ uint32_t k_full() const { return q_full() + 8; }
  __device__ uint32_t v_full() const { return q_full() + 16; }
};

// S[64 x 64] = Q · K_tileᵀ, both from shared memory K-major (128-byte swizzled halves).
__device__ __forceinline__ void issue_qk(float (&s)[kScoreRegs], uint32_t q_tile, uint32_t k_tile) {
#pragma unroll
  for (int kk = 0; kk < kQSteps; ++kk) {
    const uint32_t in_row = (kk % 4) * 32;
    wgmma_m64n64k16_ss(s, smem_desc_sw128(q_tile + (kk / 4) * kHalfBytes + in_row, 16, 1024),
                       smem_desc_sw128(k_tile + (kk / 4) * kHalfBytes + in_row, 16, 1024),
                       kk > 0 ? 1 : 0);
  }
}

// O[64 x 128] += P[64 x 64 keys] · V_tile[64 keys x 128] (V MN-major, as in FLASH_ATTN).
__device__ __forceinline__ void issue_pv(float (&o)[64], const uint32_t (&p)[kPSteps][4],
                                         uint32_t v_tile) {
#pragma unroll
  for (int kk = 0; kk < kPSteps; ++kk)
    wgmma_m64n128k16_rs_tn(o, p[kk], smem_desc_sw128(v_tile + kk * 2048, kHalfBytes, 1024));
}

// Both 64-column halves of tile `box` (64 rows of 128 bytes each; rows past the end read zeros)
// into `dst`, completing on `bar` (thread 0 only).
__device__ __forceinline__ void load_tile(uint32_t dst, const CUtensorMap* map, uint32_t bar,
                                          const WorkTile& w, const TileBox& box) {
  mbarrier_arrive_expect_tx(bar, kTileBytes);
  for (int half = 0; half < 2; ++half)
    tma_load_4d(dst + half * kHalfBytes, map, bar, 64 * half, w.head, box.first, w.batch);
}

// A stage's boxes into `dst` (warp 0, every lane: each lane loads its own entry's box), rows past
// the last box zero-filled by loads past the tensor's end (row `rows_end`), completing on `bar`.
__device__ __forceinline__ void load_stage(uint32_t dst, const BoxMaps& maps, uint32_t bar,
                                           const WorkTile& w, const Stage& st, int lane,
                                           int rows_end) {
  if (lane == 0) mbarrier_arrive_expect_tx(bar, kTileBytes);
  __syncwarp();
  if (st.mine) {
    const CUtensorMap* map = maps.of(st.box);
    for (int half = 0; half < 2; ++half)
      tma_load_4d(dst + half * kHalfBytes + st.row * 128, map, bar, 64 * half, w.head,
                  st.packed & 0xffffff, w.batch);
  }
  if (lane == 0) {
    for (int row = st.filled; row < 64; row += row & -row) {  // the largest aligned box each
      const int rows = row & -row;
      for (int half = 0; half < 2; ++half)
        tma_load_4d(dst + half * kHalfBytes + row * 128, maps.of(rows), bar, 64 * half, w.head,
                    rows_end, w.batch);
    }
  }
}

// Softmax of one step's scores; keys outside the step's valid rows (a TileBox's or a Stage's)
// masked unless it has none.
template <class Keys>
__device__ __forceinline__ bool step_softmax(float (&s)[kScoreRegs], float (&m)[2], float (&l)[2],
                                             float (&corr)[2], float scale_log2, int lane,
                                             const Keys& keys) {
  const auto valid = [&](int column) { return keys.holds(column); };
  return keys.full() ? online_softmax_where<false>(s, m, l, corr, scale_log2, lane, valid)
                     : online_softmax_where<true>(s, m, l, corr, scale_log2, lane, valid);
}

// Epilogue: each valid row of O / l to its output row, plus G ⊙ coarse.
__device__ __forceinline__ void write_rows(const float (&o)[64], const float (&l)[2],
                                           const SparseParams& p, const WorkTile& w,
                                           const TileBox& query_box) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int col = 2 * (lane % 4);
  const float* coarse =  // read only with a gate (null without one)
      p.gate == nullptr
          ? nullptr
          : p.coarse + ((int64_t(w.batch) * p.num_tiles + w.tile) * p.heads + w.head) * kHeadDim +
                col;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int in_tile = warp * 16 + lane / 4 + 8 * r;  // row in the query tile
    const float inv = 1.f / quad_sum(l[r]);            // a warp-wide shuffle: before any lane skips
    if (!query_box.holds(in_tile)) continue;
    const int slot = query_box.first + in_tile;
    const int row = p.token_of_slot ? p.token_of_slot[slot] : slot;
    const int64_t at =
        ((int64_t(w.batch) * p.out_tokens + row) * p.heads + w.head) * kHeadDim + col;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      float x = o[4 * i + 2 * r] * inv, y = o[4 * i + 2 * r + 1] * inv;
      if (p.gate != nullptr) {
        const float2 g =
            __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p.gate + at + 8 * i));
        const float2 c = *reinterpret_cast<const float2*>(coarse + 8 * i);
        x += g.x * c.x;
        y += g.y * c.y;
      }
      *reinterpret_cast<uint32_t*>(p.out + at + 8 * i) = pack_bf16x2(x, y);
    }
  }
}

// One 64-key step over the K and V in shared memory: S = Q·Kᵀ, the softmax masked by `keys` (a
// TileBox or a Stage), O += P·V. while_qk runs while the tensor cores compute Q·Kᵀ (work that
// needs no accumulator: the stage walk places its next stage there), after_qk once every warp is
// done with K (the next K's load); on return every warp is done with V.
template <class Keys, class WhileQk, class AfterQk>
__device__ __forceinline__ void attend_step(float (&o)[64], float (&s)[kScoreRegs],
                                            uint32_t (&pf)[kPSteps][4], float (&m)[2],
                                            float (&l)[2], float (&corr)[2], const SmemMap& sm,
                                            uint32_t phase, float scale_log2, int lane,
                                            const Keys& keys, WhileQk&& while_qk,
                                            AfterQk&& after_qk) {
  mbarrier_wait(sm.k_full(), phase);
  fence_operands(s);
  wgmma_fence();
  issue_qk(s, sm.q(), sm.k());
  wgmma_commit();
  while_qk();  // work that needs no accumulator, while the tensor cores run
  wgmma_wait<0>();
  fence_operands(s);
  named_barrier_sync(1, kThreads);  // every warp's Q·K_jᵀ is done with K
  after_qk();
  const bool rebased = step_softmax(s, m, l, corr, scale_log2, lane, keys);
  scores_to_operand(s, pf);

  mbarrier_wait(sm.v_full(), phase);
  fence_operands(o);
  fence_operands(pf);
  if (rebased) rescale(o, corr);
  wgmma_fence();
  issue_pv(o, pf, sm.v());
  wgmma_commit();
  wgmma_wait<0>();
  fence_operands(o);
  fence_operands(pf);
  named_barrier_sync(1, kThreads);  // every warp's P·V_j is done with V
}

// The tile walk: one CTA, one query tile over its topk selected key tiles, K and V single-buffered
// as FastVideo's ThunderKittens kernel does (attention-algorithms.md §3.2): K_{j+1} loads while
// step j's softmax and P·V run, V_{j+1} while step j+1's Q·Kᵀ and softmax run; the other CTAs on
// the SM fill the gaps. Thread 0 issues the loads once the whole warpgroup is past the buffer.
__device__ void attend_tiles(const CUtensorMap* tm_q, const CUtensorMap* tm_k,
                             const CUtensorMap* tm_v, const SparseParams& p, const SmemMap& sm) {
  const WorkTile w = this_tile(p);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int32_t* list = tile_list(p, p.selected, w);
  const int last = p.topk - 1;
  const TileBox query_box = tile_box(p, w.tile);
  // Warp 0 keeps a window for the loads (entry j + 1) besides every warp's for the masking (j).
  int window = list_window(p, list, 0, lane), load_window = window;
  const TileBox first = window_entry(window, 0);  // a shuffle: every lane
  if (threadIdx.x == 0) {
    load_tile(sm.q(), tm_q, sm.q_full(), w, query_box);
    load_tile(sm.k(), tm_k, sm.k_full(), w, first);
    load_tile(sm.v(), tm_v, sm.v_full(), w, first);
  }
  float o[64], s[kScoreRegs], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, corr[2];
  uint32_t pf[kPSteps][4];
#pragma unroll
  for (int i = 0; i < 64; ++i) o[i] = 0.f;
  mbarrier_wait(sm.q_full(), 0);

  for (int j = 0; j <= last; ++j) {
    const uint32_t phase = j & 1;
    if (j > 0 && j % kWindow == 0) window = list_window(p, list, j, lane);
    const TileBox keys = window_entry(window, j);
    TileBox next{};
    if (warp == 0 && j < last) {
      if ((j + 1) % kWindow == 0) load_window = list_window(p, list, j + 1, lane);
      next = window_entry(load_window, j + 1);
    }
    attend_step(
        o, s, pf, m, l, corr, sm, phase, p.scale_log2, lane, keys, [] {},
        [&] {
          if (threadIdx.x == 0 && j < last) load_tile(sm.k(), tm_k, sm.k_full(), w, next);
        });
    if (threadIdx.x == 0 && j < last) load_tile(sm.v(), tm_v, sm.v_full(), w, next);
  }
  write_rows(o, l, p, w, query_box);
}

// The stage walk: one CTA, one query tile over the stages of its ordered list, K and V
// single-buffered as FastVideo's ThunderKittens kernel does (attention-algorithms.md §3.2): K_{j+1}
// loads while step j's softmax and P·V run, V_{j+1} while step j+1's Q·Kᵀ and softmax run; the
// other CTAs on the SM fill the gaps. Warp 0 issues the loads once the whole warpgroup is past the
// buffer.
__device__ void attend_stages(const CUtensorMap* tm_q, const BoxMaps& k_maps, const BoxMaps& v_maps,
                              const SparseParams& p, const SmemMap& sm) {
  const WorkTile w = this_tile(p);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int32_t* list = tile_list(p, p.ordered, w);
  // Every warp places stage j + 1 during step j, from entries loaded during step j - 1.
  Stage keys = make_stage(list_entry(list, 0, p.topk, lane), lane);
  int next_first = keys.entries;
  int next_entry = list_entry(list, next_first, p.topk, lane);
  if (warp == 0) {
    if (lane == 0) load_tile(sm.q(), tm_q, sm.q_full(), w, tile_box(p, w.tile));
    load_stage(sm.k(), k_maps, sm.k_full(), w, keys, lane, p.tokens);
    load_stage(sm.v(), v_maps, sm.v_full(), w, keys, lane, p.tokens);
  }
  float o[64], s[kScoreRegs], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, corr[2];
  uint32_t pf[kPSteps][4];
#pragma unroll
  for (int i = 0; i < 64; ++i) o[i] = 0.f;
  mbarrier_wait(sm.q_full(), 0);

  for (int j = 0;; ++j) {
    const uint32_t phase = j & 1;
    const bool more = next_first < p.topk;
    Stage next;
    int after_first = 0;
    const auto place_next = [&] {  // stage j + 1, and the entries of the one after
      next = make_stage(next_entry, lane);
      after_first = next_first + next.entries;
      next_entry = list_entry(list, after_first, p.topk, lane);  // used in the next step
    };
    attend_step(o, s, pf, m, l, corr, sm, phase, p.scale_log2, lane, keys, place_next, [&] {
      if (warp == 0 && more) load_stage(sm.k(), k_maps, sm.k_full(), w, next, lane, p.tokens);
    });
    if (!more) break;
    if (warp == 0) load_stage(sm.v(), v_maps, sm.v_full(), w, next, lane, p.tokens);
    keys = next;
    next_first = after_first;
  }
  write_rows(o, l, p, w, tile_box(p, w.tile));  // looked up again: no register held over the loop
}

// The kernels' shared prologue: the shared-memory map, the tensor maps prefetched, the barriers.
__device__ __forceinline__ SmemMap start_cta(uint8_t* smem_raw, const CUtensorMap* tm_q,
                                             const CUtensorMap* tm_k, const CUtensorMap* tm_v) {
  const SmemMap sm{(smem_u32(smem_raw) + 1023u) & ~1023u};
  if (threadIdx.x == 0) {
    prefetch_tensor_map(tm_q);
    prefetch_tensor_map(tm_k);
    prefetch_tensor_map(tm_v);
    mbarrier_init(sm.q_full(), 1);
    mbarrier_init(sm.k_full(), 1);
    mbarrier_init(sm.v_full(), 1);
    fence_barrier_init();
  }
  __syncthreads();
  return sm;
}

#endif  // sm_90a or host pass

__global__ void __launch_bounds__(kThreads, kCtasPerSm)
    block_sparse_attention_hopper_kernel(const __grid_constant__ CUtensorMap tm_q,
                                         const __grid_constant__ CUtensorMap tm_k,
                                         const __grid_constant__ CUtensorMap tm_v,
                                         const SparseParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t smem_raw[];
  attend_tiles(&tm_q, &tm_k, &tm_v, p, start_cta(smem_raw, &tm_q, &tm_k, &tm_v));
#endif
}

// The stage walk: K and V each through maps of 64-, 32-, 16- and 8-row boxes.
__global__ void __launch_bounds__(kThreads, kCtasPerSm) packed_stage_attention_hopper_kernel(
    const __grid_constant__ CUtensorMap tm_q, const __grid_constant__ CUtensorMap tm_k64,
    const __grid_constant__ CUtensorMap tm_k32, const __grid_constant__ CUtensorMap tm_k16,
    const __grid_constant__ CUtensorMap tm_k8, const __grid_constant__ CUtensorMap tm_v64,
    const __grid_constant__ CUtensorMap tm_v32, const __grid_constant__ CUtensorMap tm_v16,
    const __grid_constant__ CUtensorMap tm_v8, const SparseParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t smem_raw[];
  attend_stages(&tm_q, BoxMaps{&tm_k64, &tm_k32, &tm_k16, &tm_k8},
                BoxMaps{&tm_v64, &tm_v32, &tm_v16, &tm_v8}, p,
                start_cta(smem_raw, &tm_q, &tm_k64, &tm_v64));
#endif
}

// Each selection row's tiles as packed coordinates (first row | valid count << 24), ordered by box
// size, largest first, index order within a size (one warp a row, a pass per size), so the
// attention kernel's stages fill exactly.
constexpr int kOrderWarps = 8;
__global__ void __launch_bounds__(32 * kOrderWarps)
    order_by_box_kernel(const int32_t* selected, int64_t rows, int topk, const int32_t* tile_sizes,
                        const int32_t* tile_starts, int tokens, int32_t* ordered) {
  const int64_t row = int64_t(blockIdx.x) * kOrderWarps + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const int32_t* in = selected + row * topk;
  int32_t* out = ordered + row * topk;
  int written = 0;
  for (int box = 64; box >= 8; box /= 2) {
    for (int first = 0; first < topk; first += 32) {
      int packed = -1;
      if (first + lane < topk) {
        const int tile = in[first + lane];
        const int count = tile_sizes ? tile_sizes[tile] : min(64, tokens - 64 * tile);
        const int row0 = tile_starts ? tile_starts[tile] : 64 * tile;
        if (vsa_key_box_rows(count) == box) packed = row0 | count << 24;
      }
      const uint32_t taken = __ballot_sync(0xffffffffu, packed >= 0);
      if (packed >= 0) out[written + __popc(taken & ((1u << lane) - 1))] = packed;
      written += __popc(taken);
    }
  }
}

// Either kernel over q, k, v with their TMA maps; p's geometry fields set by the caller.
void launch(SparseParams& p, const Tensor& q, const Tensor& k, const Tensor& v,
            const Tensor& selected, const Tensor& out, float scale, bool packed) {
  CudaContext& ctx = CudaContext::get(q.device().index);
  static PerDeviceOnce prepared;
  prepared(q.device().index, [] {
    for (const void* kernel :
         {reinterpret_cast<const void*>(block_sparse_attention_hopper_kernel),
          reinterpret_cast<const void*>(packed_stage_attention_hopper_kernel)}) {
      FV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         int(kSmemBytes)));
      // All of the SM's unified L1/shared memory as shared, so four CTAs fit.
      FV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                                         int(cudaSharedmemCarveoutMaxShared)));
    }
  });
  p.out = out.data<__nv_bfloat16>();
  p.selected = selected.data<int32_t>();
  p.heads = int(q.size(2));
  p.tokens = int(q.size(1));
  p.out_tokens = int(out.size(1));
  p.topk = int(selected.size(3));
  FV_CHECK(p.topk >= 1, "block-sparse attention on Hopper: selection lists of ", p.topk,
           " tiles (at least 1)");
  FV_CHECK(q.size(1) < (1 << 24) && 64 * int64_t(p.num_tiles) < (1 << 24),
           "block-sparse attention on Hopper: ", q.size(1), " rows in ", p.num_tiles,
           " tiles are too many (row indices must stay below 2^24)");
  p.scale_log2 = scale * kLog2e;
  const int64_t ctas = int64_t(q.size(0)) * p.heads * p.num_tiles;
  FV_CHECK(ctas < (int64_t(1) << 31), "block-sparse attention: ", ctas, " tiles are too many");
  if (!packed) {
    block_sparse_attention_hopper_kernel<<<unsigned(ctas), kThreads, kSmemBytes, ctx.stream()>>>(
        bshd_tensor_map(q, 64), bshd_tensor_map(k, 64), bshd_tensor_map(v, 64), p);
    FV_CUDA_CHECK_LAUNCH();
    return;
  }
  const Tensor ordered = Tensor::empty(selected.shape(), DType::I32, q.device());
  const int64_t rows = selected.numel() / std::max<int64_t>(p.topk, 1);
  order_by_box_kernel<<<unsigned((rows + kOrderWarps - 1) / kOrderWarps), 32 * kOrderWarps, 0,
                        ctx.stream()>>>(p.selected, rows, p.topk, p.tile_sizes, p.tile_starts,
                                        p.tokens, ordered.data<int32_t>());
  FV_CUDA_CHECK_LAUNCH();
  p.ordered = ordered.data<int32_t>();
  packed_stage_attention_hopper_kernel<<<unsigned(ctas), kThreads, kSmemBytes, ctx.stream()>>>(
      bshd_tensor_map(q, 64), bshd_tensor_map(k, 64), bshd_tensor_map(k, 32),
      bshd_tensor_map(k, 16), bshd_tensor_map(k, 8), bshd_tensor_map(v, 64), bshd_tensor_map(v, 32),
      bshd_tensor_map(v, 16), bshd_tensor_map(v, 8), p);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace

void hopper_video_sparse_fine(const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& tile_sizes, const Tensor& tile_starts,
                              const Tensor& token_of_slot, const Tensor& selected,
                              const Tensor& coarse, const Tensor& gate, float scale,
                              const Tensor& out) {
  SparseParams p{};
  p.num_tiles = int(selected.size(2));
  const bool rows = tile_starts.defined();  // q, k, v the tile-ordered rows themselves
  FV_CHECK(
      tile_sizes.numel() == p.num_tiles &&
          (rows ? tile_starts.numel() == p.num_tiles && !token_of_slot.defined() &&
                      q.size(1) == out.size(1)
                : q.size(1) == 64 * int64_t(p.num_tiles) && token_of_slot.numel() == q.size(1)),
      "VIDEO_SPARSE_ATTN's fine stage on Hopper: q ", q.describe(), " for ", p.num_tiles,
      " tiles, tile sizes ", tile_sizes.describe(), ", tile starts ", tile_starts.describe(),
      ", token_of_slot ", token_of_slot.describe(), ", out ", out.describe());
  FV_CHECK(!gate.defined() || coarse.defined(),
           "VIDEO_SPARSE_ATTN's fine stage on Hopper: a gate needs the coarse output");
  p.coarse = coarse.defined() ? coarse.data<float>() : nullptr;  // read only with a gate
  p.gate = gate.defined() ? gate.data<__nv_bfloat16>() : nullptr;
  p.tile_sizes = tile_sizes.data<int32_t>();
  p.tile_starts = rows ? tile_starts.data<int32_t>() : nullptr;
  p.token_of_slot = rows ? nullptr : token_of_slot.data<int32_t>();
  p.q_tiles_per_row = 1;
  launch(p, q, k, v, selected, out, scale,
         vsa_packs_key_tiles(out.size(1), 64 * int64_t(p.num_tiles)));
}

void hopper_block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                   const Tensor& selected, float scale, const Tensor& out,
                                   int q_tiles_per_row) {
  SparseParams p{};
  p.num_tiles = int((q.size(1) + 63) / 64);
  FV_CHECK(q_tiles_per_row >= 1 &&
               selected.size(2) == (p.num_tiles + q_tiles_per_row - 1) / q_tiles_per_row,
           "block-sparse attention on Hopper: ", selected.size(2), " selection rows for ",
           p.num_tiles, " query tiles at ", q_tiles_per_row, " per row");
  p.q_tiles_per_row = q_tiles_per_row;
  launch(p, q, k, v, selected, out, scale, false);
}

}  // namespace fastvideo::ops::cuda
