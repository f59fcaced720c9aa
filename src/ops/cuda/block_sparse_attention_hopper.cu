// VSA's fine stage on Hopper (sm_90a), fused with tiling and untiling (vsa_fine_stage.h),
// built on the FLASH_ATTN Hopper pipeline (flash_attention_hopper.cu). q, k, v stay in raster order:
// a 5-D TMA box of 4×4×4 tokens loads a VSA tile straight into the 64-row shared-memory layout the
// wgmma descriptors read (hopper_attention.cuh video_tile_tensor_map), so no tiled copy exists.
// Keys outside the grid (partial edge tiles) are masked by their coordinates in the tile; the
// epilogue writes each valid query row to its raster position, adding the gated coarse output.
//
// Work tile:  a pair of query tiles (128 rows, four TMA boxes) of one (batch, head). Each consumer
//             warpgroup owns one 64-row query tile and walks that tile's own list of `topk`
//             selected key tiles, so the two consumers read different keys.
// Shared:     Q 32 KiB; per consumer a 3-stage K ring and a 3-stage V ring of 64-key tiles (16 KiB
//             each, TMA with 128-byte swizzle, two 64-column boxes per tile): 224 KiB in all
//             (3 stages measured 2 % faster than 2 on the H200).
// Q in registers: each consumer copies its 64 query rows into registers (ldmatrix, the wgmma A
//             layout, 32 registers a thread) and frees the Q buffer at once, so the next work
//             tile's Q loads early and Q·Kᵀ reads only K from shared memory. (With Q read from
//             shared memory too, a 64-key m64n64 step moves as many shared-memory bytes as the
//             tensor cores can consume: 80 KiB per consumer step, the TMA writes included, against
//             512 cycles of MMA work; with Q in registers 64 KiB.)
// Warp roles: 384 threads; WG0 the producer (40 registers; its first warp reads the lists, one
//             thread issues every TMA load: Q, then per step the K and V tiles of both consumers'
//             lists), WG1/WG2 (232 registers) the consumers as in FLASH_ATTN:
//             S = Q·Kᵀ by wgmma m64n64k16 (Q from registers), online softmax in base 2 with conditional rescale
//             (keys outside the grid masked), O += P·V by wgmma m64n128k16 with P from
//             registers; the softmax of step j overlaps P·V of step j-1, and the consumers take
//             turns issuing GEMMs (ping-pong). Both lists have topk entries, so both consumers
//             take the same number of turns.
// Grid:       persistent, one CTA per SM over (query-tile pair fastest, then head, then batch).
// With an odd number of tiles the last pair's second consumer repeats the last tile and writes
// nothing. All lanes take part in the epilogue's row-sum shuffle before any row is skipped.
//
// Tested by tests/cuda_video_sparse_attention_test.cpp (both kernels) against the VSA reference.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <array>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/ampere_ptx.cuh"
#include "ops/cuda/hopper_attention.cuh"
#include "ops/cuda/vsa_fine_stage.h"

namespace fastvideo::ops::cuda {

namespace {

using namespace hopper;

constexpr int kHeadDim = 128;
constexpr int kTileRows = 64;              // a VSA tile: query rows per consumer, keys per step
constexpr int kBlockM = 2 * kTileRows;     // query rows per work tile
constexpr int kStages = 3;
constexpr int kConsumers = 2;
constexpr int kThreads = 384;
constexpr uint32_t kQTileBytes = kBlockM * kHeadDim * 2;     // 32 KiB
constexpr uint32_t kKvTileBytes = kTileRows * kHeadDim * 2;  // 16 KiB
constexpr uint32_t kQHalfBytes = kQTileBytes / 2;
constexpr uint32_t kKvHalfBytes = kKvTileBytes / 2;
constexpr int kBarriers = 2 + 4 * kConsumers * kStages;
constexpr uint32_t kBarrierBytes = 256;
constexpr size_t kSmemBytes = 1024 /* alignment slack */ + kQTileBytes +
                              2 * kConsumers * kStages * kKvTileBytes + kBarrierBytes;
static_assert(kKvHalfBytes % 1024 == 0 && kQHalfBytes % 1024 == 0 && kBarriers * 8 <= int(kBarrierBytes));

struct SparseParams {
  __nv_bfloat16* out;          // [B, S, heads, D], raster
  const int32_t* selected;     // [B, heads, N / q_tiles_per_row, topk]
  const float* coarse;         // [B, N, heads, D]
  const __nv_bfloat16* gate;   // [B, S, heads, D] or null (G = 0)
  int heads, T, H, W, tiles_h, tiles_w, tokens, num_tiles, pairs, num_work, topk;
  int q_tiles_per_row;         // query tiles sharing one selection row (SLA: 2)
  bool sequence;               // tiles are 64-token blocks in sequence order, not 4×4×4 boxes
  float scale_log2;
};

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

constexpr int kConsumerWarps = 8;
constexpr int kScoreRegs = kTileRows / 2;  // S accumulators per consumer thread (64 x 64 / 128)
constexpr int kPSteps = kTileRows / 16;    // k16 steps of P·V
constexpr int kQSteps = kHeadDim / 16;     // k16 steps of Q·Kᵀ

struct WorkTile {
  int pair, head, batch;
};

__device__ __forceinline__ WorkTile decode_tile(const SparseParams& p, int t) {
  const int rest = t / p.pairs;
  return {t % p.pairs, rest % p.heads, rest / p.heads};
}

// Consumer c's query tile (the last one again for the phantom second tile of an odd count).
__device__ __forceinline__ int query_tile(const SparseParams& p, const WorkTile& w, int c) {
  return min(2 * w.pair + c, p.num_tiles - 1);
}

// The selected key tiles of consumer c's query tile.
__device__ __forceinline__ const int32_t* tile_list(const SparseParams& p, const WorkTile& w,
                                                    int c) {
  const int rows = (p.num_tiles + p.q_tiles_per_row - 1) / p.q_tiles_per_row;
  return p.selected + ((int64_t(w.batch) * p.heads + w.head) * rows +
                       query_tile(p, w, c) / p.q_tiles_per_row) * p.topk;
}

// Where a tile lies. Video: its first token (t, h, w) in the grid and how far it reaches along
// each axis (1..4). Sequence: t = h = 0, w its first token, ew its token count (1..64), et = 0.
struct TileBox {
  int t, h, w, et, eh, ew;
  __device__ bool sequence() const { return et == 0; }
  __device__ bool full() const { return sequence() ? ew == 64 : (et & eh & ew) == 4; }
  // Row or key r (0..63) of the tile (raster order inside a 4×4×4 box) lies inside the tokens.
  __device__ bool holds(int r) const {
    return sequence() ? r < ew : (r & 3) < ew && ((r >> 2) & 3) < eh && (r >> 4) < et;
  }
  // Its token r (raster order inside the box), r inside the tokens.
  __device__ int token(const SparseParams& p, int r) const {
    return sequence() ? w + r : ((t + (r >> 4)) * p.H + h + ((r >> 2) & 3)) * p.W + w + (r & 3);
  }
};

// A tile in one int: Video its coordinates in tiles, packed tt << 20 | th << 10 | tw (the host
// checks each < 1024); Sequence its index.
__device__ __forceinline__ int packed_tile_coords(const SparseParams& p, int tile) {
  if (p.sequence) return tile;
  const int tw = tile % p.tiles_w, th = (tile / p.tiles_w) % p.tiles_h, tt = tile / (p.tiles_w * p.tiles_h);
  return tt << 20 | th << 10 | tw;
}

__device__ __forceinline__ TileBox unpack_box(const SparseParams& p, int packed) {
  if (p.sequence) return {0, 0, 64 * packed, 0, 0, min(64, p.tokens - 64 * packed)};
  const int t = 4 * (packed >> 20), h = 4 * ((packed >> 10) & 1023), w = 4 * (packed & 1023);
  return {t, h, w, min(4, p.T - t), min(4, p.H - h), min(4, p.W - w)};
}

__device__ __forceinline__ TileBox tile_box(const SparseParams& p, int tile) {
  return unpack_box(p, packed_tile_coords(p, tile));
}

// The selected-tile lists are read 32 entries at a time by a whole warp: lane l loads entry
// j0 + l and works out its packed coordinates, and each step takes its entry by a shuffle. So the
// thread that issues the TMA loads (and the consumers' masking) never waits on a global load or
// a division per step.
constexpr int kWindow = 32;
__device__ __forceinline__ int list_window(const SparseParams& p, const int32_t* list, int j0,
                                           int lane) {
  const int j = j0 + lane;
  return packed_tile_coords(p, j < p.topk ? list[j] : 0);
}
__device__ __forceinline__ TileBox window_entry(const SparseParams& p, int window, int j) {
  return unpack_box(p, __shfl_sync(0xffffffffu, window, j % kWindow));
}

// Loads one 64-column half of tile `box` of batch item b into `dst` (64 rows of 128 bytes): a 5-D
// box of the video map, or 64 rows of the sequence map (rows past the end read zeros).
__device__ __forceinline__ void load_tile_half(uint32_t dst, const CUtensorMap* map, uint32_t bar,
                                               int half, int head, const TileBox& box, int b,
                                               int T) {
  if (box.sequence())
    tma_load_4d(dst, map, bar, 64 * half, head, box.w, b);
  else
    tma_load_5d(dst, map, bar, 64 * half, head, box.w, box.h, b * T + box.t);
}

// [Q][K: consumer 0 stages, consumer 1 stages][V: likewise][barriers], tiles 1024-byte aligned.
struct SmemMap {
  uint32_t base;
  __device__ uint32_t q() const { return base; }
  __device__ uint32_t k(int c, int s) const {
    return base + kQTileBytes + kKvTileBytes * (c * kStages + s);
  }
  __device__ uint32_t v(int c, int s) const {
    return base + kQTileBytes + kKvTileBytes * (kConsumers * kStages + c * kStages + s);
  }
  __device__ uint32_t bar(int i) const {
    return base + kQTileBytes + kKvTileBytes * 2 * kConsumers * kStages + 8 * i;
  }
  __device__ uint32_t q_full() const { return bar(0); }
  __device__ uint32_t q_empty() const { return bar(1); }
  __device__ uint32_t k_full(int c, int s) const { return bar(2 + c * kStages + s); }
  __device__ uint32_t k_empty(int c, int s) const { return bar(2 + (2 + c) * kStages + s); }
  __device__ uint32_t v_full(int c, int s) const { return bar(2 + (4 + c) * kStages + s); }
  __device__ uint32_t v_empty(int c, int s) const { return bar(2 + (6 + c) * kStages + s); }
};

__device__ __forceinline__ int ring_stage(uint32_t it) { return int(it % kStages); }
__device__ __forceinline__ uint32_t ring_phase(uint32_t it) { return (it / kStages) & 1; }

// This consumer's 64 query rows (q_rows: its rows of the first 64-column half; the second half
// lies kQHalfBytes further) into the wgmma A layout, one k16 step per entry. Warp w reads rows
// 16w..16w+15; ldmatrix's matrix i is rows +8·(i%2), columns +8·(i/2) of the step, so the four
// registers come out in mma.m16n8k16 A order. The buffer is 128-byte swizzled: 16-byte chunk c of
// row r lies at chunk c ^ (r % 8).
__device__ __forceinline__ void load_q_fragments(uint32_t (&qf)[kQSteps][4], uint32_t q_rows,
                                                 int warp, int lane) {
  const int matrix = lane / 8, row = 16 * warp + 8 * (matrix % 2) + lane % 8;
#pragma unroll
  for (int kk = 0; kk < kQSteps; ++kk) {
    const int chunk = 2 * (kk % 4) + matrix / 2;
    ampere::ldmatrix_x4(qf[kk], q_rows + (kk / 4) * kQHalfBytes + row * 128 + ((chunk ^ (row % 8)) << 4));
  }
}

// S[64 x 64] = Q[this consumer's rows] · K_tileᵀ, Q from registers, K K-major (128-byte swizzled
// halves).
__device__ __forceinline__ void issue_qk(float (&s)[kScoreRegs], const uint32_t (&qf)[kQSteps][4],
                                         uint32_t k_tile) {
#pragma unroll
  for (int kk = 0; kk < kQSteps; ++kk)
    wgmma_m64n64k16_rs(s, qf[kk], smem_desc_sw128(k_tile + (kk / 4) * kKvHalfBytes + (kk % 4) * 32, 16, 1024),
                       kk > 0 ? 1 : 0);
}

// O[64 x 128] += P[64 x 64 keys] · V_tile[64 keys x 128] (V MN-major, as in FLASH_ATTN).
__device__ __forceinline__ void issue_pv(float (&o)[64], const uint32_t (&p)[kPSteps][4],
                                         uint32_t v_tile) {
#pragma unroll
  for (int kk = 0; kk < kPSteps; ++kk)
    wgmma_m64n128k16_rs_tn(o, p[kk], smem_desc_sw128(v_tile + kk * 2048, kKvHalfBytes, 1024));
}

// Run by the producer warpgroup's first warp: every lane takes part in reading the lists, lane 0
// issues the loads.
__device__ void producer(const CUtensorMap* tm_q, const CUtensorMap* tm_k, const CUtensorMap* tm_v,
                         const SparseParams& p, const SmemMap& sm, int lane) {
  if (lane == 0) {
    prefetch_tensor_map(tm_q);
    prefetch_tensor_map(tm_k);
    prefetch_tensor_map(tm_v);
  }
  uint32_t it = 0, tc = 0;
  for (int t = blockIdx.x; t < p.num_work; t += gridDim.x, ++tc) {
    const WorkTile w = decode_tile(p, t);
    const int32_t* lists[kConsumers] = {tile_list(p, w, 0), tile_list(p, w, 1)};
    if (lane == 0) {
      mbarrier_wait(sm.q_empty(), (tc & 1) ^ 1);
      mbarrier_arrive_expect_tx(sm.q_full(), kQTileBytes);
      for (int c = 0; c < kConsumers; ++c) {
        const TileBox box = tile_box(p, query_tile(p, w, c));
        for (int half = 0; half < 2; ++half)
          load_tile_half(sm.q() + half * kQHalfBytes + c * kKvHalfBytes, tm_q, sm.q_full(), half,
                         w.head, box, w.batch, p.T);
      }
    }
    int windows[kConsumers] = {0, 0};
    for (int j = 0; j < p.topk; ++j, ++it) {
      if (j % kWindow == 0)
        for (int c = 0; c < kConsumers; ++c) windows[c] = list_window(p, lists[c], j, lane);
      const int packed[kConsumers] = {__shfl_sync(0xffffffffu, windows[0], j % kWindow),
                                      __shfl_sync(0xffffffffu, windows[1], j % kWindow)};
      if (lane != 0) continue;
      const int s = ring_stage(it);
      const uint32_t ph = ring_phase(it);
      for (int c = 0; c < kConsumers; ++c) {
        mbarrier_wait(sm.k_empty(c, s), ph ^ 1);
        mbarrier_arrive_expect_tx(sm.k_full(c, s), kKvTileBytes);
        for (int half = 0; half < 2; ++half)
          load_tile_half(sm.k(c, s) + half * kKvHalfBytes, tm_k, sm.k_full(c, s), half, w.head,
                         unpack_box(p, packed[c]), w.batch, p.T);
      }
      for (int c = 0; c < kConsumers; ++c) {
        mbarrier_wait(sm.v_empty(c, s), ph ^ 1);
        mbarrier_arrive_expect_tx(sm.v_full(c, s), kKvTileBytes);
        for (int half = 0; half < 2; ++half)
          load_tile_half(sm.v(c, s) + half * kKvHalfBytes, tm_v, sm.v_full(c, s), half, w.head,
                         unpack_box(p, packed[c]), w.batch, p.T);
      }
    }
  }
}

__device__ __forceinline__ void gemm_turn_begin(int half) { named_barrier_sync(1 + half, 256); }
__device__ __forceinline__ void gemm_turn_end(int half) { named_barrier_arrive(2 - half, 256); }

// Softmax of one step's scores; keys outside the grid masked when the key tile is partial.
__device__ __forceinline__ bool step_softmax(float (&s)[kScoreRegs], float (&m)[2], float (&l)[2],
                                             float (&corr)[2], float scale_log2, int lane,
                                             const TileBox& keys) {
  const auto valid = [&](int column) { return keys.holds(column); };
  return keys.full() ? online_softmax_where<false>(s, m, l, corr, scale_log2, lane, valid)
                     : online_softmax_where<true>(s, m, l, corr, scale_log2, lane, valid);
}

__device__ void consumer(const SparseParams& p, const SmemMap& sm, int consumer_thread) {
  const int half = consumer_thread / 128;  // which query tile of the pair, and which KV ring
  const int warp = (consumer_thread % 128) / 32, lane = consumer_thread % 32;
  const uint32_t q_rows = sm.q() + half * 64 * 128;
  const int last = p.topk - 1;

  if (half == 1) named_barrier_arrive(1, 256);
  uint32_t it = 0, tc = 0;
  for (int t = blockIdx.x; t < p.num_work; t += gridDim.x, ++tc) {
    const WorkTile w = decode_tile(p, t);
    const int32_t* list = tile_list(p, w, half);
    float o[64], s[kScoreRegs], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, corr[2];
    uint32_t pf[kPSteps][4], qf[kQSteps][4];
#pragma unroll
    for (int i = 0; i < 64; ++i) o[i] = 0.f;

    mbarrier_wait(sm.q_full(), tc & 1);
    load_q_fragments(qf, q_rows, warp, lane);
    release(sm.q_empty(), lane);  // the next work tile's Q may load now
    mbarrier_wait(sm.k_full(half, ring_stage(it)), ring_phase(it));
    fence_operands(s);
    fence_operands(qf);
    gemm_turn_begin(half);
    wgmma_fence();
    issue_qk(s, qf, sm.k(half, ring_stage(it)));
    wgmma_commit();
    gemm_turn_end(half);
    int window = list_window(p, list, 0, lane);
    TileBox keys = window_entry(p, window, 0);
    wgmma_wait<0>();
    fence_operands(s);
    release(sm.k_empty(half, ring_stage(it)), lane);
    bool rebased = step_softmax(s, m, l, corr, p.scale_log2, lane, keys);
    scores_to_operand(s, pf);

    for (int j = 1; j <= last; ++j) {
      const uint32_t prev = it++;
      if (j % kWindow == 0) window = list_window(p, list, j, lane);
      keys = window_entry(p, window, j);
      mbarrier_wait(sm.k_full(half, ring_stage(it)), ring_phase(it));
      fence_operands(s);
      gemm_turn_begin(half);
      wgmma_fence();
      issue_qk(s, qf, sm.k(half, ring_stage(it)));
      wgmma_commit();
      mbarrier_wait(sm.v_full(half, ring_stage(prev)), ring_phase(prev));
      fence_operands(o);
      fence_operands(pf);
      if (rebased) rescale(o, corr);  // overlaps Q·K_jᵀ on the tensor cores
      wgmma_fence();
      issue_pv(o, pf, sm.v(half, ring_stage(prev)));
      wgmma_commit();
      gemm_turn_end(half);

      wgmma_wait<1>();  // S_j done, P_{j-1}·V_{j-1} may still run
      fence_operands(s);
      release(sm.k_empty(half, ring_stage(it)), lane);
      rebased = step_softmax(s, m, l, corr, p.scale_log2, lane, keys);

      wgmma_wait<0>();
      fence_operands(o);
      fence_operands(pf);
      release(sm.v_empty(half, ring_stage(prev)), lane);
      scores_to_operand(s, pf);
    }

    mbarrier_wait(sm.v_full(half, ring_stage(it)), ring_phase(it));
    fence_operands(o);
    fence_operands(pf);
    if (rebased) rescale(o, corr);
    gemm_turn_begin(half);
    wgmma_fence();
    issue_pv(o, pf, sm.v(half, ring_stage(it)));
    wgmma_commit();
    gemm_turn_end(half);
    wgmma_wait<0>();
    fence_operands(o);
    fence_operands(pf);
    release(sm.v_empty(half, ring_stage(it)), lane);
    ++it;

    // Epilogue: each valid row of O / l to its raster token, plus G ⊙ coarse (a phantom tile,
    // the repeat of the last one for an odd count, writes nothing).
    const int tile = 2 * w.pair + half;
    if (tile < p.num_tiles) {
      const TileBox box = tile_box(p, tile);
      const int col = 2 * (lane % 4);
      const float* coarse =
          p.coarse + ((int64_t(w.batch) * p.num_tiles + tile) * p.heads + w.head) * kHeadDim + col;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int in_tile = warp * 16 + lane / 4 + 8 * r;  // row in the query tile
        const float inv = 1.f / quad_sum(l[r]);  // a warp-wide shuffle: before any lane skips
        if (!box.holds(in_tile)) continue;
        const int token = box.token(p, in_tile);
        const int64_t at = ((int64_t(w.batch) * p.tokens + token) * p.heads + w.head) * kHeadDim + col;
#pragma unroll
        for (int i = 0; i < 16; ++i) {
          float x = o[4 * i + 2 * r] * inv, y = o[4 * i + 2 * r + 1] * inv;
          if (p.gate != nullptr) {
            const float2 g = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p.gate + at + 8 * i));
            const float2 c = *reinterpret_cast<const float2*>(coarse + 8 * i);
            x += g.x * c.x;
            y += g.y * c.y;
          }
          *reinterpret_cast<uint32_t*>(p.out + at + 8 * i) = pack_bf16x2(x, y);
        }
      }
    }
  }
}

#endif  // sm_90a or host pass

__global__ void __launch_bounds__(kThreads, 1)
    block_sparse_attention_hopper_kernel(const __grid_constant__ CUtensorMap tm_q,
                                         const __grid_constant__ CUtensorMap tm_k,
                                         const __grid_constant__ CUtensorMap tm_v,
                                         const SparseParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t smem_raw[];
  const SmemMap sm{(smem_u32(smem_raw) + 1023u) & ~1023u};
  if (threadIdx.x == 0) {
    mbarrier_init(sm.q_full(), 1);
    mbarrier_init(sm.q_empty(), kConsumerWarps);
    for (int c = 0; c < kConsumers; ++c)
      for (int s = 0; s < kStages; ++s) {
        mbarrier_init(sm.k_full(c, s), 1);
        mbarrier_init(sm.k_empty(c, s), kConsumerWarps / 2);
        mbarrier_init(sm.v_full(c, s), 1);
        mbarrier_init(sm.v_empty(c, s), kConsumerWarps / 2);
      }
    fence_barrier_init();
  }
  __syncthreads();

  if (threadIdx.x < 128) {
    setmaxnreg_dec<40>();
    if (threadIdx.x < 32) producer(&tm_q, &tm_k, &tm_v, p, sm, threadIdx.x);
  } else {
    setmaxnreg_inc<232>();
    consumer(p, sm, threadIdx.x - 128);
  }
#endif
}

// The kernel over q, k, v with their TMA maps; p's geometry fields set by the caller.
void launch(SparseParams& p, const Tensor& q, const Tensor& selected, const Tensor& out,
            const CUtensorMap& tm_q, const CUtensorMap& tm_k, const CUtensorMap& tm_v, float scale) {
  CudaContext& ctx = CudaContext::get(q.device().index);
  static const bool prepared = [] {
    FV_CUDA_CHECK(cudaFuncSetAttribute(block_sparse_attention_hopper_kernel,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       int(kSmemBytes)));
    return true;
  }();
  (void)prepared;
  p.out = out.data<__nv_bfloat16>();
  p.selected = selected.data<int32_t>();
  p.heads = int(q.size(2));
  p.tokens = int(q.size(1));
  p.pairs = (p.num_tiles + 1) / 2;
  p.num_work = int(q.size(0)) * p.heads * p.pairs;
  p.topk = int(selected.size(3));
  p.scale_log2 = scale * kLog2e;
  const int ctas = std::min(p.num_work, ctx.info().sm_count);
  block_sparse_attention_hopper_kernel<<<ctas, kThreads, kSmemBytes, ctx.stream()>>>(tm_q, tm_k,
                                                                                     tm_v, p);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace

void hopper_video_sparse_fine(const Tensor& q, const Tensor& k, const Tensor& v,
                              std::array<int64_t, 3> grid, const Tensor& selected,
                              const Tensor& coarse, const Tensor& gate, float scale,
                              const Tensor& out) {
  SparseParams p{};
  p.coarse = coarse.data<float>();
  p.gate = gate.defined() ? gate.data<__nv_bfloat16>() : nullptr;
  p.T = int(grid[0]);
  p.H = int(grid[1]);
  p.W = int(grid[2]);
  p.tiles_h = (p.H + 3) / 4;
  p.tiles_w = (p.W + 3) / 4;
  FV_CHECK((p.T + 3) / 4 <= 1024 && p.tiles_h <= 1024 && p.tiles_w <= 1024,
           "VIDEO_SPARSE_ATTN on Hopper: a token grid of ", p.T, "x", p.H, "x", p.W,
           " has more than 1024 tiles along an axis");
  p.num_tiles = int(selected.size(2));
  p.q_tiles_per_row = 1;
  p.sequence = false;
  launch(p, q, selected, out, video_tile_tensor_map(q, grid[0], grid[1], grid[2]),
         video_tile_tensor_map(k, grid[0], grid[1], grid[2]),
         video_tile_tensor_map(v, grid[0], grid[1], grid[2]), scale);
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
  p.sequence = true;
  launch(p, q, selected, out, bshd_tensor_map(q, 64), bshd_tensor_map(k, 64),
         bshd_tensor_map(v, 64), scale);
}

}  // namespace fastvideo::ops::cuda
