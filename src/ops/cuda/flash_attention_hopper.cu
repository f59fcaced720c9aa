// FLASH_ATTN forward on Hopper (sm_90a), FlashAttention-3 style (attention-algorithms.md §1.3).
//
// Tile shape:     128 query rows x 176 keys per step, head dim 128; bf16 in, fp32 accumulate.
// Pipeline depth: Q tile single-buffered; K and V each in a 2-stage shared-memory ring, loaded by
//                 TMA (128-byte swizzle, two 64-column boxes per tile) completing on mbarriers;
//                 208 KiB of shared memory in all.
// Warp roles:     384 threads = 3 warpgroups.
//   WG0  producer: setmaxnreg down to 24; one thread issues every TMA load.
//   WG1, WG2 consumers: setmaxnreg up to 240; each owns 64 of the 128 query rows and runs
//        S = Q·Kᵀ (wgmma m64n176k16, Q and K from shared memory) and O += P·V (wgmma, P from
//        registers in bf16, V from shared memory read MN-major), plus the online softmax.
// Grid:           persistent, one CTA per SM; CTA c takes work tiles c, c + grid, ... in the order
//                 (q tile fastest, then head, then batch), so CTAs running together share K/V in
//                 L2.
//
// Consumer schedule for one work tile, n = ceil(Sk / 176) KV tiles (intra-warpgroup overlap:
// the softmax of tile j runs while the tensor cores do P_{j-1}·V_{j-1}):
//   S_0 = Q·K_0ᵀ; wait; softmax(S_0) -> P_0
//   for j = 1 .. n-1:
//     issue S_j = Q·K_jᵀ; O *= correction if softmax(S_{j-1}) moved the exponent base (FP32
//     units, while Q·K_jᵀ runs); issue O += P_{j-1}·V_{j-1}
//     wait S_j   -> release K stage; softmax(S_j) (masked when j = n-1 is partial)
//     wait P·V   -> release V stage; P_j = bf16(S_j)
//   O *= correction; O += P_{n-1}·V_{n-1}; wait; O /= l; store O (and LSE = m·scale + ln l).
// Ping-pong: the two consumer warpgroups take turns issuing their GEMMs (named barriers 1 and 2:
// a warpgroup waits for its turn before issuing, and hands the turn over after committing), so
// one warpgroup's softmax runs while the other's wgmmas own the tensor cores
// (attention-algorithms.md §1.3 item 3).
// Softmax works in base 2: p = exp2(s·scale·log2e - m·scale·log2e), one FFMA and one MUFU.EX2 per
// score; the base m moves only when a row's max grew by more than 2^8 (FA4's conditional
// rescaling), so most tiles skip the O rescale. The row sums l stay per-thread partial sums until
// the epilogue (the correction factors are uniform over the 4 threads sharing a row).
//
// Barriers (all in shared memory): q_full/q_empty, k_full[s]/k_empty[s], v_full[s]/v_empty[s].
// "full" completes with the TMA transaction bytes (1 arrival: the producer's expect_tx); "empty"
// completes when all 8 consumer warps have arrived (lane 0 of each after its wgmma wait).
//
// Key runs (key_runs_attention.h; STA and VMoBA): the same kernel, each 128-row query block
// walking its list row's runs of consecutive keys instead of all of them, 176 or 192 keys a step
// (a second instantiation: STA's runs are multiples of 192), each run's last step masked past its
// end, and each query row written to its raster position (the untiling in the epilogue).
//
// Tested by tests/cuda_flash_attention_test.cpp against ops::cpu::attention, and the key runs by
// tests/cuda_tile_list_attention_test.cpp against the STA and VMoBA references.
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/flash_attention_kernels.h"
#include "ops/cuda/hopper_attention.cuh"
#include "ops/cuda/hopper_ptx.cuh"
#include "ops/cuda/key_runs_attention.h"
#include "ops/cuda/ptx_common.cuh"

namespace fastvideo::ops::cuda {

namespace {

using namespace hopper;

constexpr int kBlockM = 128;  // query rows per work tile (2 consumer warpgroups x 64)
constexpr int kHeadDim = kFlashHeadDim;
constexpr int kStages = 2;
constexpr int kThreads = 384;
constexpr uint32_t kQTileBytes = kBlockM * kHeadDim * 2;  // 32 KiB
// Every tile is stored as two 64-column halves of 128-byte rows (the 128-byte swizzle's row).
constexpr uint32_t kQHalfBytes = kQTileBytes / 2;
constexpr uint32_t kBarrierBytes = 128;
static_assert(kQHalfBytes % 1024 == 0);

// Keys per KV step. Dense attention: 176 (FA3's choice for head dim 128, measured best:
// docs/perf.md; 160 and 128 were 1-4 % slower, 192 1 % slower). Key runs take 176 or 192, whichever
// pads fewer keys: STA's 6x8x8 tiles make runs of multiples of 192 keys (three 8x8 faces).
constexpr int kDenseBlockN = 176;
template <int kBlockN>
struct KvTile {
  static constexpr uint32_t kTileBytes = kBlockN * kHeadDim * 2;  // 44 or 48 KiB
  static constexpr uint32_t kHalfBytes = kTileBytes / 2;
  static constexpr size_t kSmemBytes =
      1024 /* alignment slack */ + kQTileBytes + 2 * kStages * kTileBytes + kBarrierBytes;
  static_assert(kBlockN % 16 == 0 && kHalfBytes % 1024 == 0);
};

struct FlashParams {
  __nv_bfloat16* out;  // [B, Sq, H, D]
  float* lse;          // [B, H, Sq] or null
  int heads, seq_q, seq_k, q_tiles, num_tiles;
  float scale, scale_log2;
  // Key runs (hopper_key_runs_attention); tile_of_block null: every query sees keys [0, seq_k)
  // and query row q is out's row q.
  const int32_t* tile_of_block;  // [q_tiles] the list row of each 128-row query block
  const int32_t* token_of_row;   // [seq_q] out's row for each query row, -1: none
  int out_rows;                  // out [B, out_rows, H, D]
  const int2* runs;              // [B, heads, list_rows, max_runs] key rows [x, y), y > x
  const int32_t* run_counts;     // [B, heads, list_rows], each >= 1
  int list_rows, max_runs;
};

// The device code below exists only where the kernel's body is compiled (sm_90a) and in the host
// pass; an sm_80 pass of this file compiles an empty kernel and none of it.
#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

constexpr int kConsumerWarps = 8;
// Per consumer thread: kBlockN / 2 S accumulators, kBlockN / 16 k16 steps of P·V.

struct WorkTile {
  int q0, head, batch;
};

__device__ __forceinline__ WorkTile decode_tile(const FlashParams& p, int t) {
  const int rest = t / p.q_tiles;
  return {(t % p.q_tiles) * kBlockM, rest % p.heads, rest / p.heads};
}

// The key steps of one work tile: its runs of consecutive keys walked kBlockN keys a step, the
// last step of each run masked past the run's end (dense: one run, all the keys). Producer and
// consumers walk the same steps.
template <int kBlockN>
struct KeySteps {
  int next, last_run;  // the next run's and the last run's index in params.runs
  int kv0, end;        // the step's first key, its run's end
  __device__ int valid() const { return min(kBlockN, end - kv0); }
  __device__ bool last() const { return next > last_run && kv0 + kBlockN >= end; }
  __device__ void advance(const FlashParams& p) {
    kv0 += kBlockN;
    if (kv0 < end) return;
    const int2 run = p.runs[next++];
    kv0 = run.x;
    end = run.y;
  }
};

template <int kBlockN>
__device__ __forceinline__ KeySteps<kBlockN> key_steps(const FlashParams& p, const WorkTile& w) {
  if (p.tile_of_block == nullptr) return {1, 0, 0, p.seq_k};
  const int row = (w.batch * p.heads + w.head) * p.list_rows + p.tile_of_block[w.q0 / kBlockM];
  const int first = row * p.max_runs;
  const int2 run = p.runs[first];
  return {first + 1, first + p.run_counts[row] - 1, run.x, run.y};
}

// Shared-memory map: [Q][K stage 0][K stage 1][V stage 0][V stage 1][barriers], every tile
// 1024-byte aligned (the 128-byte swizzle pattern repeats every 1024 bytes, and both TMA and the
// wgmma descriptors apply it to absolute shared-memory addresses).
template <int kBlockN>
struct SmemMap {
  static constexpr uint32_t kKvTileBytes = KvTile<kBlockN>::kTileBytes;
  uint32_t base;
  __device__ uint32_t q() const { return base; }
  __device__ uint32_t k(int s) const { return base + kQTileBytes + kKvTileBytes * s; }
  __device__ uint32_t v(int s) const { return base + kQTileBytes + kKvTileBytes * (kStages + s); }
  __device__ uint32_t bar(int i) const {
    return base + kQTileBytes + kKvTileBytes * 2 * kStages + 8 * i;
  }
  __device__ uint32_t q_full() const { return bar(0); }
  __device__ uint32_t q_empty() const { return bar(1); }
  __device__ uint32_t k_full(int s) const { return bar(2 + s); }
  __device__ uint32_t k_empty(int s) const { return bar(2 + kStages + s); }
  __device__ uint32_t v_full(int s) const { return bar(2 + 2 * kStages + s); }
  __device__ uint32_t v_empty(int s) const { return bar(2 + 3 * kStages + s); }
};
static_assert((2 + 4 * kStages) * 8 <= int(kBarrierBytes));

// The KV ring position of the `it`-th KV tile this CTA handles (counted over all its work tiles).
__device__ __forceinline__ int ring_stage(uint32_t it) { return int(it % kStages); }
__device__ __forceinline__ uint32_t ring_phase(uint32_t it) { return (it / kStages) & 1; }

// S[64 x kBlockN] = Q[rows of this warpgroup] · K_tileᵀ. Both operands K-major, 128-byte
// swizzled, each a pair of 64-column halves; k16 step kk lies in half kk/4 at byte offset
// 32·(kk%4).
template <int kBlockN>
__device__ __forceinline__ void issue_qk(float (&s)[kBlockN / 2], uint32_t q_rows,
                                         uint32_t k_tile) {
#pragma unroll
  for (int kk = 0; kk < kHeadDim / 16; ++kk) {
    const uint32_t in_row = (kk % 4) * 32;
    const uint64_t a = smem_desc_sw128(q_rows + (kk / 4) * kQHalfBytes + in_row, 16, 1024);
    const uint64_t b =
        smem_desc_sw128(k_tile + (kk / 4) * KvTile<kBlockN>::kHalfBytes + in_row, 16, 1024);
    if constexpr (kBlockN == 176)
      wgmma_m64n176k16_ss(s, a, b, kk > 0 ? 1 : 0);
    else
      wgmma_m64n192k16_ss(s, a, b, kk > 0 ? 1 : 0);
  }
}

// O[64 x 128] += P[64 x kBlockN keys] · V_tile[kBlockN keys x 128]. V is stored [key][d] (the
// layout TMA copies), i.e. MN-major for this GEMM: 8-key groups 1024 bytes apart (SBO), the two
// 64-wide d halves kKvHalfBytes apart (LBO); k16 step kk starts 16 keys = 2048 bytes further.
template <int kBlockN>
__device__ __forceinline__ void issue_pv(float (&o)[64], const uint32_t (&p)[kBlockN / 16][4],
                                         uint32_t v_tile) {
#pragma unroll
  for (int kk = 0; kk < kBlockN / 16; ++kk)
    wgmma_m64n128k16_rs_tn(o, p[kk],
                           smem_desc_sw128(v_tile + kk * 2048, KvTile<kBlockN>::kHalfBytes, 1024));
}

template <int kBlockN>
__device__ void producer(const CUtensorMap* tm_q, const CUtensorMap* tm_k, const CUtensorMap* tm_v,
                         const FlashParams& p, const SmemMap<kBlockN>& sm) {
  constexpr uint32_t kKvTileBytes = KvTile<kBlockN>::kTileBytes;
  constexpr uint32_t kKvHalfBytes = KvTile<kBlockN>::kHalfBytes;
  prefetch_tensor_map(tm_q);
  prefetch_tensor_map(tm_k);
  prefetch_tensor_map(tm_v);
  uint32_t it = 0, tc = 0;
  for (int t = blockIdx.x; t < p.num_tiles; t += gridDim.x, ++tc) {
    const WorkTile w = decode_tile(p, t);
    mbarrier_wait(sm.q_empty(), (tc & 1) ^ 1);
    mbarrier_arrive_expect_tx(sm.q_full(), kQTileBytes);
    tma_load_4d(sm.q(), tm_q, sm.q_full(), 0, w.head, w.q0, w.batch);
    tma_load_4d(sm.q() + kQHalfBytes, tm_q, sm.q_full(), 64, w.head, w.q0, w.batch);
    for (KeySteps<kBlockN> steps = key_steps<kBlockN>(p, w);; steps.advance(p)) {
      const int s = ring_stage(it);
      const uint32_t ph = ring_phase(it++);
      const int kv0 = steps.kv0;
      mbarrier_wait(sm.k_empty(s), ph ^ 1);
      mbarrier_arrive_expect_tx(sm.k_full(s), kKvTileBytes);
      tma_load_4d(sm.k(s), tm_k, sm.k_full(s), 0, w.head, kv0, w.batch);
      tma_load_4d(sm.k(s) + kKvHalfBytes, tm_k, sm.k_full(s), 64, w.head, kv0, w.batch);
      mbarrier_wait(sm.v_empty(s), ph ^ 1);
      mbarrier_arrive_expect_tx(sm.v_full(s), kKvTileBytes);
      tma_load_4d(sm.v(s), tm_v, sm.v_full(s), 0, w.head, kv0, w.batch);
      tma_load_4d(sm.v(s) + kKvHalfBytes, tm_v, sm.v_full(s), 64, w.head, kv0, w.batch);
      if (steps.last()) break;
    }
  }
}

// Ping-pong turns between the consumer warpgroups: barrier 1 + h is warpgroup h's turn; 256
// threads = its own 128 waiting plus the other 128 handing over.
__device__ __forceinline__ void gemm_turn_begin(int half) { named_barrier_sync(1 + half, 256); }
__device__ __forceinline__ void gemm_turn_end(int half) { named_barrier_arrive(2 - half, 256); }

template <int kBlockN>
__device__ void consumer(const FlashParams& p, const SmemMap<kBlockN>& sm, int consumer_thread) {
  const int half = consumer_thread / 128;  // which 64 query rows of the tile
  const int warp = (consumer_thread % 128) / 32, lane = consumer_thread % 32;
  const int row = half * 64 + warp * 16 + lane / 4;  // this thread's rows: row, row + 8
  const uint32_t q_rows = sm.q() + half * 64 * 128;  // 64 rows x 128 bytes into each half

  // Warpgroup 0 has the first turn. Both warpgroups take the same number of turns (n + 1 per
  // work tile), so the hand-overs stay matched to the end.
  if (half == 1) named_barrier_arrive(1, 256);
  uint32_t it = 0, tc = 0;
  for (int t = blockIdx.x; t < p.num_tiles; t += gridDim.x, ++tc) {
    const WorkTile w = decode_tile(p, t);
    float o[64], s[kBlockN / 2], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f}, corr[2];
    uint32_t pf[kBlockN / 16][4];
#pragma unroll
    for (int i = 0; i < 64; ++i) o[i] = 0.f;

    KeySteps<kBlockN> steps = key_steps<kBlockN>(p, w);
    mbarrier_wait(sm.q_full(), tc & 1);
    mbarrier_wait(sm.k_full(ring_stage(it)), ring_phase(it));
    fence_operands(s);
    gemm_turn_begin(half);
    wgmma_fence();
    issue_qk<kBlockN>(s, q_rows, sm.k(ring_stage(it)));
    wgmma_commit();
    gemm_turn_end(half);
    wgmma_wait<0>();
    fence_operands(s);
    release(sm.k_empty(ring_stage(it)), lane);
    if (steps.last()) release(sm.q_empty(), lane);
    bool rebased = steps.valid() < kBlockN
                       ? online_softmax<true>(s, m, l, corr, p.scale_log2, lane, steps.valid())
                       : online_softmax<false>(s, m, l, corr, p.scale_log2, lane, kBlockN);
    scores_to_operand(s, pf);

    while (!steps.last()) {
      steps.advance(p);
      const uint32_t prev = it++;
      mbarrier_wait(sm.k_full(ring_stage(it)), ring_phase(it));
      fence_operands(s);
      gemm_turn_begin(half);
      wgmma_fence();
      issue_qk<kBlockN>(s, q_rows, sm.k(ring_stage(it)));
      wgmma_commit();
      mbarrier_wait(sm.v_full(ring_stage(prev)), ring_phase(prev));
      fence_operands(o);
      fence_operands(pf);
      if (rebased) rescale(o, corr);  // overlaps Q·K_jᵀ on the tensor cores
      wgmma_fence();
      issue_pv<kBlockN>(o, pf, sm.v(ring_stage(prev)));
      wgmma_commit();
      gemm_turn_end(half);

      wgmma_wait<1>();  // S_j done, P_{j-1}·V_{j-1} may still run
      fence_operands(s);
      release(sm.k_empty(ring_stage(it)), lane);
      if (steps.last()) release(sm.q_empty(), lane);
      if (steps.valid() < kBlockN)
        rebased = online_softmax<true>(s, m, l, corr, p.scale_log2, lane, steps.valid());
      else
        rebased = online_softmax<false>(s, m, l, corr, p.scale_log2, lane, kBlockN);

      wgmma_wait<0>();
      fence_operands(o);
      fence_operands(pf);
      release(sm.v_empty(ring_stage(prev)), lane);
      scores_to_operand(s, pf);
    }

    mbarrier_wait(sm.v_full(ring_stage(it)), ring_phase(it));
    fence_operands(o);
    fence_operands(pf);
    if (rebased) rescale(o, corr);
    gemm_turn_begin(half);
    wgmma_fence();
    issue_pv<kBlockN>(o, pf, sm.v(ring_stage(it)));
    wgmma_commit();
    gemm_turn_end(half);
    wgmma_wait<0>();
    fence_operands(o);
    fence_operands(pf);
    release(sm.v_empty(ring_stage(it)), lane);
    ++it;

    // Epilogue: O / l straight from registers (bf16 pairs; 4 threads cover 8 columns of a row).
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float sum = quad_sum(l[r]);
      const float inv = 1.f / sum;
      const int q = w.q0 + row + 8 * r;
      if (q >= p.seq_q) continue;
      const int to = p.token_of_row == nullptr ? q : p.token_of_row[q];
      if (to < 0) continue;
      __nv_bfloat16* out = p.out +
                           ((int64_t(w.batch) * p.out_rows + to) * p.heads + w.head) * kHeadDim +
                           2 * (lane % 4);
#pragma unroll
      for (int i = 0; i < 16; ++i)
        *reinterpret_cast<uint32_t*>(out + 8 * i) =
            pack_bf16x2(o[4 * i + 2 * r] * inv, o[4 * i + 2 * r + 1] * inv);
      if (p.lse != nullptr && lane % 4 == 0)
        p.lse[(int64_t(w.batch) * p.heads + w.head) * p.seq_q + q] = m[r] * p.scale + logf(sum);
    }
  }
}

#endif  // sm_90a or host pass

template <int kBlockN>
__global__ void __launch_bounds__(kThreads, 1)
    flash_attention_hopper_kernel(const __grid_constant__ CUtensorMap tm_q,
                                  const __grid_constant__ CUtensorMap tm_k,
                                  const __grid_constant__ CUtensorMap tm_v, const FlashParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t smem_raw[];
  const SmemMap<kBlockN> sm{(smem_u32(smem_raw) + 1023u) & ~1023u};
  if (threadIdx.x == 0) {
    mbarrier_init(sm.q_full(), 1);
    mbarrier_init(sm.q_empty(), kConsumerWarps);
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(sm.k_full(s), 1);
      mbarrier_init(sm.k_empty(s), kConsumerWarps);
      mbarrier_init(sm.v_full(s), 1);
      mbarrier_init(sm.v_empty(s), kConsumerWarps);
    }
    fence_barrier_init();
  }
  __syncthreads();

  if (threadIdx.x < 128) {
    setmaxnreg_dec<24>();
    if (threadIdx.x == 0) producer<kBlockN>(&tm_q, &tm_k, &tm_v, p, sm);
  } else {
    setmaxnreg_inc<240>();
    consumer<kBlockN>(p, sm, threadIdx.x - 128);
  }
#endif
}

template <int kBlockN>
void prepare_hopper() {
  FV_CUDA_CHECK(cudaFuncSetAttribute(flash_attention_hopper_kernel<kBlockN>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     int(KvTile<kBlockN>::kSmemBytes)));
}

// The kernel for kBlockN keys a step on the current device's stream; p complete but for nothing.
template <int kBlockN>
void launch_kernel(const FlashParams& p, const Tensor& q, const Tensor& k, const Tensor& v,
                   int grid, cudaStream_t stream) {
  const CUtensorMap tm_q = bshd_tensor_map(q, kBlockM), tm_k = bshd_tensor_map(k, kBlockN),
                    tm_v = bshd_tensor_map(v, kBlockN);
  flash_attention_hopper_kernel<kBlockN>
      <<<grid, kThreads, KvTile<kBlockN>::kSmemBytes, stream>>>(tm_q, tm_k, tm_v, p);
  FV_CUDA_CHECK_LAUNCH();
}

// Persistent: one CTA per SM, or one per work tile when there are fewer.
int hopper_grid(const FlashAttentionPlan& plan, int sm_count) {
  const int64_t tiles = plan.batch * plan.heads * ((plan.q_len + kBlockM - 1) / kBlockM);
  return int(std::min<int64_t>(tiles, sm_count));
}

void launch_hopper(const FlashAttentionPlan& plan, const Tensor& q, const Tensor& k,
                   const Tensor& v, float scale, const Tensor& out, float* lse) {
  FlashParams p{};
  p.out = out.data<__nv_bfloat16>();
  p.lse = lse;
  p.heads = int(plan.heads);
  p.seq_q = int(plan.q_len);
  p.seq_k = int(plan.kv_len);
  p.out_rows = p.seq_q;
  p.q_tiles = int((plan.q_len + kBlockM - 1) / kBlockM);
  p.num_tiles = int(plan.batch * plan.heads * p.q_tiles);  // < 2^30: the plan checked it
  p.scale = scale;
  p.scale_log2 = scale * kLog2e;
  launch_kernel<kDenseBlockN>(p, q, k, v, plan.grid, CudaContext::get(plan.device).stream());
}

}  // namespace

void hopper_key_runs_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& tile_of_block, const Tensor& token_of_row,
                               const Tensor& runs, const Tensor& run_counts, int key_step,
                               float scale, const Tensor& out) {
  FV_CHECK(key_step == 176 || key_step == 192, "key-runs attention: key_step ", key_step,
           " is neither 176 nor 192");
  const Device device = q.device();
  const auto bf16_here = [&](const Tensor& t) {
    return t.dtype() == DType::BF16 && t.device() == device && t.ndim() == 4 &&
           t.size(3) == kHeadDim && t.is_contiguous();
  };
  const auto i32_here = [&](const Tensor& t) {
    return t.dtype() == DType::I32 && t.device() == device && t.is_contiguous();
  };
  FV_CHECK(!device.is_cpu() && bf16_here(q) && bf16_here(k) && v.shape() == k.shape() &&
               bf16_here(v) && bf16_here(out) && k.size(0) == q.size(0) && k.size(2) == q.size(2) &&
               out.size(0) == q.size(0) && out.size(2) == q.size(2),
           "key-runs attention: q, k, v and out must be contiguous BF16 [B, S, H, ", kHeadDim,
           "] on one GPU with k's and v's shapes equal; got q ", q.describe(), ", k ", k.describe(),
           ", v ", v.describe(), ", out ", out.describe());
  const int64_t B = q.size(0), rows = q.size(1), H = q.size(2);
  FV_CHECK(
      i32_here(tile_of_block) && i32_here(token_of_row) && i32_here(runs) && i32_here(run_counts),
      "key-runs attention: tile_of_block, token_of_row, runs and run_counts must be "
      "contiguous I32 on ",
      device.name(), "; got ", tile_of_block.describe(), ", ", token_of_row.describe(), ", ",
      runs.describe(), ", ", run_counts.describe());
  FV_CHECK(rows % kBlockM == 0 && tile_of_block.numel() == rows / kBlockM &&
               token_of_row.numel() == rows && runs.ndim() == 5 && runs.size(0) == B &&
               runs.size(1) == H && runs.size(4) == 2 &&
               run_counts.shape() == Shape({B, H, runs.size(2)}) &&
               B * H * (rows / kBlockM) < (int64_t(1) << 30) &&
               runs.numel() / 2 < (int64_t(1) << 31) && k.size(1) < (int64_t(1) << 31) &&
               out.size(1) < (int64_t(1) << 31),
           "key-runs attention: q ", q.describe(), " (rows a multiple of ", kBlockM, "), ",
           tile_of_block.numel(), " block rows, runs ", runs.describe(), " and counts ",
           run_counts.describe(), " do not fit (B·H·N·R runs below 2^31)");
  CudaContext& ctx = CudaContext::get(device.index);
  static PerDeviceOnce prepared;
  prepared(device.index, [] {
    prepare_hopper<176>();
    prepare_hopper<192>();
  });
  FlashParams p{};
  p.out = out.data<__nv_bfloat16>();
  p.heads = int(H);
  p.seq_q = int(rows);
  p.seq_k = int(k.size(1));
  p.q_tiles = int(rows / kBlockM);
  p.num_tiles = int(B * H * p.q_tiles);
  p.scale = scale;
  p.scale_log2 = scale * kLog2e;
  p.tile_of_block = tile_of_block.data<int32_t>();
  p.token_of_row = token_of_row.data<int32_t>();
  p.out_rows = int(out.size(1));
  p.runs = reinterpret_cast<const int2*>(runs.data<int32_t>());
  p.run_counts = run_counts.data<int32_t>();
  p.list_rows = int(runs.size(2));
  p.max_runs = int(runs.size(3));
  const int grid = int(std::min<int64_t>(p.num_tiles, ctx.info().sm_count));
  if (key_step == 192)
    launch_kernel<192>(p, q, k, v, grid, ctx.stream());
  else
    launch_kernel<176>(p, q, k, v, grid, ctx.stream());
}

int best_key_step(const Tensor& runs, const Tensor& run_counts) {
  FV_CHECK(runs.device().is_cpu() && run_counts.device().is_cpu() && runs.ndim() == 5,
           "best_key_step: runs and counts on the cpu, got ", runs.describe());
  const int64_t rows = run_counts.numel(), R = runs.size(3);
  int64_t padded[2] = {0, 0};
  const int steps[2] = {176, 192};
  for (int64_t row = 0; row < rows; ++row)
    for (int32_t i = 0; i < run_counts.data<int32_t>()[row]; ++i) {
      const int32_t* run = runs.data<int32_t>() + (row * R + i) * 2;
      for (int j = 0; j < 2; ++j)
        padded[j] += (run[1] - run[0] + steps[j] - 1) / steps[j] * steps[j];
    }
  return padded[1] < padded[0] ? 192 : 176;
}

const FlashKernel& hopper_flash_kernel() {
  static const FlashKernel kernel{"the Hopper kernel",
                                  9,
                                  0,
                                  true,
                                  KvTile<kDenseBlockN>::kSmemBytes,
                                  prepare_hopper<kDenseBlockN>,
                                  hopper_grid,
                                  launch_hopper};
  return kernel;
}

}  // namespace fastvideo::ops::cuda
