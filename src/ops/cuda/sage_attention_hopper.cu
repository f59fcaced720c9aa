// SAGE_ATTN's dense Hopper kernel (sm_90a): SageAttention2's recipe (ops/sage_attention.h, the
// contract, steps 3, 4 and 6; each step as sage_hopper.cuh says) on the FLASH_ATTN Hopper pipeline
// (flash_attention_hopper.cu), reading the pre-pass's INT8 Q and K and FP8 Vᵀ
// (ops/cuda/sage_kernels.h). A block list (SageSLA) goes to sage_sparse_attention_hopper.cu.
//
// Shape: a producer warpgroup (one thread issues the TMA loads) and three consumer warpgroups on
// 64 query rows each (192-row work tiles), 128 keys per step (the contract's key block), head dim
// 128, one persistent CTA per SM. When the tiles leave the last wave partial, those tiles run
// in a second launch of the kernel as key ranges (sage_tail_splits), whose partial O, m and l a
// third kernel merges, so that no SM idles through a last tile (at (1,12,32760,128): 2052 tiles on
// 132 SMs, 72 in the last wave). The three consumers read the same K and Vᵀ tiles, so each tile
// crosses from L2 once per 192 query rows, and they run unsynchronised, so one's softmax overlaps
// another's GEMMs. Against SageAttention's own sm90 shape (one 64-row warpgroup per CTA, three
// CTAs per SM; now the sparse kernel's) in one A/B call on an H200: 1.09x at (1,12,32760,128),
// 1.11x at (1,40,75600,128) (docs/perf.md).
// Shared:     Q 24 KiB (int8, one 128-byte row per query: the 128-byte swizzle's row); per stage K
//             16 KiB (int8) and Vᵀ 16 KiB (E4M3, 128 channel rows of 128 keys) followed by 1 KiB
//             of E4M3 ones (P̃·V's row sums, sage_hopper.cuh), and its key block's 4 key scales
//             (16 bytes, bulk-copied with K); 4 stages: 157 KiB. A stage's K
//             (Vᵀ) is refilled once all 12 consumer warps have released it.
//
// Tested by tests/cuda_sage_attention_test.cpp against the CPU contract (ops::cpu::sage_attention).
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/sage_hopper.cuh"

namespace fastvideo::ops::cuda {

namespace {

using namespace sage_hopper;

constexpr int kConsumers = 3;
constexpr int kBlockM = kConsumers * int(kSageQueryBlock);  // 192: three warpgroups of 64 rows
constexpr int kStages = 4;
constexpr int kThreads = 128 * (1 + kConsumers);
constexpr uint32_t kQTileBytes = kBlockM * kD;  // int8
constexpr uint32_t kBarrierBytes = 256;
constexpr size_t kSmemBytes = 1024 /* alignment slack */ + kQTileBytes +
                              kStages * (kKTileBytes + kVStageBytes) + kBarrierBytes;

struct SageParams : SageCommon {
  int q_tiles, kv_tiles;
  // The launch for whole tiles runs tiles [0, whole_tiles); the one for parts runs the later
  // tiles, each as `splits` key ranges (sage_tail_splits): parts of them in all.
  int whole_tiles, splits, parts;
  float* partial_o;    // [parts, 192 rows, 128]: O · v_scale, not yet divided by l
  float2* partial_ml;  // [parts, 192 rows]: each row's m and l
};

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

constexpr int kConsumerWarps = 4 * kConsumers;

struct WorkTile {
  int q0, head, batch;
};

__device__ __forceinline__ WorkTile decode_tile(const SageParams& p, int t) {
  const int rest = t / p.q_tiles;
  return {(t % p.q_tiles) * kBlockM, rest % p.heads, rest / p.heads};
}

// Work unit u of a launch: a tile's key blocks [kv_begin, kv_end). kParts: part u (of tile
// whole_tiles + u / splits); otherwise tile u whole.
struct WorkUnit {
  WorkTile tile;
  int kv_begin, kv_end;
};

template <bool kParts>
__device__ __forceinline__ WorkUnit decode_unit(const SageParams& p, int u) {
  if constexpr (!kParts) return {decode_tile(p, u), 0, p.kv_tiles};
  const int range = u % p.splits;
  return {decode_tile(p, p.whole_tiles + u / p.splits), range * p.kv_tiles / p.splits,
          (range + 1) * p.kv_tiles / p.splits};
}

template <bool kParts>
__device__ __forceinline__ int unit_count(const SageParams& p) {
  return kParts ? p.parts : p.whole_tiles;
}

// [Q][K stages][Vᵀ stage + ones, per stage][barriers, each stage's 4 key scales], tiles
// 1024-byte aligned.
struct SmemMap {
  uint32_t base;
  __device__ uint32_t q() const { return base; }
  __device__ uint32_t k(int s) const { return base + kQTileBytes + kKTileBytes * s; }
  __device__ uint32_t v(int s) const {
    return base + kQTileBytes + kKTileBytes * kStages + kVStageBytes * s;
  }
  __device__ uint32_t bar(int i) const {
    return base + kQTileBytes + (kKTileBytes + kVStageBytes) * kStages + 8 * i;
  }
  __device__ uint32_t q_full() const { return bar(0); }
  __device__ uint32_t q_empty() const { return bar(1); }
  __device__ uint32_t k_full(int s) const { return bar(2 + s); }
  __device__ uint32_t k_empty(int s) const { return bar(2 + kStages + s); }
  __device__ uint32_t v_full(int s) const { return bar(2 + 2 * kStages + s); }
  __device__ uint32_t v_empty(int s) const { return bar(2 + 3 * kStages + s); }
  // Stage s's four key scales (its key block's Key groups), loaded with its K tile.
  __device__ uint32_t k_scales(int s) const { return bar(2 + 4 * kStages) + 16 * s; }
};
static_assert((2 + 4 * kStages) * 8 + 16 * kStages <= int(kBarrierBytes));

__device__ __forceinline__ int ring_stage(uint32_t it) { return int(it % kStages); }
__device__ __forceinline__ uint32_t ring_phase(uint32_t it) { return (it / kStages) & 1; }

template <bool kParts>
__device__ void producer(const CUtensorMap* tm_q, const CUtensorMap* tm_k, const CUtensorMap* tm_v,
                         const SageParams& p, const SmemMap& sm) {
  uint32_t it = 0, tc = 0;
  for (int u = blockIdx.x; u < unit_count<kParts>(p); u += gridDim.x, ++tc) {
    const WorkUnit wu = decode_unit<kParts>(p, u);
    const WorkTile& w = wu.tile;
    const float* k_scales = p.k_scales + (int64_t(w.batch) * p.heads + w.head) * p.k_scale_count;
    mbarrier_wait(sm.q_empty(), (tc & 1) ^ 1);
    mbarrier_arrive_expect_tx(sm.q_full(), kQTileBytes);
    tma_load_4d(sm.q(), tm_q, sm.q_full(), 0, w.head, w.q0, w.batch);
    for (int j = wu.kv_begin; j < wu.kv_end; ++j, ++it) {
      const int s = ring_stage(it);
      const uint32_t ph = ring_phase(it);
      mbarrier_wait(sm.k_empty(s), ph ^ 1);
      mbarrier_arrive_expect_tx(sm.k_full(s), kKTileBytes + 16);
      tma_load_4d(sm.k(s), tm_k, sm.k_full(s), 0, w.head, j * kBlockN, w.batch);
      bulk_load(sm.k_scales(s), k_scales + 4 * j, 16, sm.k_full(s));
      mbarrier_wait(sm.v_empty(s), ph ^ 1);
      mbarrier_arrive_expect_tx(sm.v_full(s), kVTileBytes);
      tma_load_4d(sm.v(s), tm_v, sm.v_full(s), j * kBlockN, 0, w.head, w.batch);
    }
  }
}

// A part's rows: O · v_scale (f32, not yet divided by l) and each row's m and l, for
// combine_row; rows at or past seq_q are not written.
__device__ __forceinline__ void store_part(const float (&o)[64], const float (&m)[2],
                                           const float (&l)[2], const SageParams& p, int part,
                                           const WorkTile& w, int row, int lane) {
  const float* v_scales = p.v_scales + (int64_t(w.batch) * p.heads + w.head) * kD + 2 * (lane % 4);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int tile_row = row + 8 * r;
    if (w.q0 + tile_row >= p.seq_q) continue;
    const int64_t at = int64_t(part) * kBlockM + tile_row;
    float* dst = p.partial_o + at * kD + 2 * (lane % 4);
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const float2 vs = *reinterpret_cast<const float2*>(v_scales + 8 * i);
      *reinterpret_cast<float2*>(dst + 8 * i) =
          make_float2(o[4 * i + 2 * r] * vs.x, o[4 * i + 2 * r + 1] * vs.y);
    }
    if (lane % 4 == 0) p.partial_ml[at] = make_float2(m[r], l[r]);  // whole rows (accumulate_pv)
  }
}

// Consumer warpgroup `wg` (0..2): rows 64·wg .. 64·wg + 63 of each work unit's tile.
template <bool kParts>
__device__ void consumer(const SageParams& p, const SmemMap& sm, int wg, int thread) {
  const int warp = thread / 32, lane = thread % 32;
  const int row = wg * 64 + warp * 16 + lane / 4;  // this thread's rows: row, row + 8
  const uint64_t q_desc = tile_desc(sm.q() + wg * 64 * kD);
  const uint64_t k_desc0 = tile_desc(sm.k(0)), v_desc0 = tile_desc(sm.v(0));  // stage 0
  uint32_t it = 0, tc = 0;
  for (int u = blockIdx.x; u < unit_count<kParts>(p); u += gridDim.x, ++tc) {
    const WorkUnit wu = decode_unit<kParts>(p, u);
    const WorkTile& w = wu.tile;
    const int last = wu.kv_end - 1;
    const int64_t bh = int64_t(w.batch) * p.heads + w.head;
    // The thread's Query group: 64-row block, warp slab, row pair (ops/sage_attention.h).
    // A warpgroup wholly past the last query still takes part (its rows are not written).
    const int q_block = w.q0 / 64 + wg;
    const float q_scale =
        q_block * 64 < p.seq_q
            ? p.q_scales[bh * p.q_scale_count + q_block * 32 + warp * 8 + lane / 4]
            : 1.f;
    float o[64], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
#pragma unroll
    for (int i = 0; i < 64; ++i) o[i] = 0.f;
    mbarrier_wait(sm.q_full(), tc & 1);

    for (int j = wu.kv_begin; j <= last; ++j, ++it) {
      const int stage = ring_stage(it);
      const uint32_t phase = ring_phase(it);
      uint32_t acc[64];
      mbarrier_wait(sm.k_full(stage), phase);
      fence_operands(acc);
      wgmma_fence();
      issue_qk(acc, q_desc, k_desc0 + stage * uint64_t(kKTileBytes >> 4));
      wgmma_commit();
      // The thread's key scale came with the K tile (read while the tensor cores work).
      const float k_scale = ld_shared_f32(sm.k_scales(stage) + 4 * (lane % 4));
      wgmma_wait<0>();
      fence_operands(acc);
      release(sm.k_empty(stage), lane);
      if (j == last) release(sm.q_empty(), lane);

      uint32_t pf[kSteps][4];
      float corr[2];
      const bool grows =
          softmax_step(acc, q_scale * k_scale, p.seq_k - j * kBlockN, lane, m, pf, corr);
      mbarrier_wait(sm.v_full(stage), phase);
      accumulate_pv(o, l, pf, corr, grows, v_desc0 + stage * uint64_t(kVStageBytes >> 4),
                    [&] { release(sm.v_empty(stage), lane); });
    }
    if constexpr (kParts)
      store_part(o, m, l, p, u, w, row, lane);
    else
      store_output(o, l, p.v_scales, p.out, w.q0 + row, p.seq_q, p.heads, w.head, w.batch, lane);
  }
}

// Row `tile_row` of the parted tiles' tile `tile`, on one warp (lane: 4 channels): its parts
// merged as contract step 4 allows (M = max m_r, O = Σ O_r · exp2(m_r − M), l = Σ l_r ·
// exp2(m_r − M)), then O / l as bf16.
__device__ __forceinline__ void combine_row(const SageParams& p, int tile, int tile_row, int lane) {
  const WorkTile w = decode_tile(p, p.whole_tiles + tile);
  const int q = w.q0 + tile_row;
  if (q >= p.seq_q) return;
  const int64_t first = int64_t(tile) * p.splits * kBlockM + tile_row;  // part 0's row
  float mx = -INFINITY;
  for (int r = 0; r < p.splits; ++r) mx = fmaxf(mx, p.partial_ml[first + r * kBlockM].x);
  float l = 0.f, acc[4] = {0.f, 0.f, 0.f, 0.f};
  for (int r = 0; r < p.splits; ++r) {
    const int64_t at = first + r * kBlockM;
    const float2 ml = p.partial_ml[at];
    const float weight = exp2f(ml.x - mx);
    l = fmaf(ml.y, weight, l);
    const float4 o = *reinterpret_cast<const float4*>(p.partial_o + at * kD + 4 * lane);
    acc[0] = fmaf(o.x, weight, acc[0]);
    acc[1] = fmaf(o.y, weight, acc[1]);
    acc[2] = fmaf(o.z, weight, acc[2]);
    acc[3] = fmaf(o.w, weight, acc[3]);
  }
  const float inv = 1.f / l;
  __nv_bfloat16* out =
      p.out + ((int64_t(w.batch) * p.seq_q + q) * p.heads + w.head) * kD + 4 * lane;
  *reinterpret_cast<uint2*>(out) =
      make_uint2(pack_bf16x2(acc[0] * inv, acc[1] * inv), pack_bf16x2(acc[2] * inv, acc[3] * inv));
}

#endif  // sm_90a or host pass

// kParts: the launch for the parts of the last wave's tiles (one kernel per kind of unit, so the
// whole tiles' step keeps its loop bound in the parameters: it has no register to spare).
template <bool kParts>
__global__ void __launch_bounds__(kThreads, 1)
    sage_attention_hopper_kernel(const __grid_constant__ CUtensorMap tm_q,
                                 const __grid_constant__ CUtensorMap tm_k,
                                 const __grid_constant__ CUtensorMap tm_v, const SageParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t smem_raw[];
  const SmemMap sm{(smem_u32(smem_raw) + 1023u) & ~1023u};
  if (threadIdx.x == 0) {
    prefetch_tensor_map(&tm_q);
    prefetch_tensor_map(&tm_k);
    prefetch_tensor_map(&tm_v);
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
  write_ones(smem_raw, kStages, kThreads, [&](int s) { return sm.v(s); });
  __syncthreads();
  if (threadIdx.x < 128) {
    setmaxnreg_dec<24>();
    if (threadIdx.x == 0) producer<kParts>(&tm_q, &tm_k, &tm_v, p, sm);
  } else {
    setmaxnreg_inc<160>();
    consumer<kParts>(p, sm, threadIdx.x / 128 - 1, threadIdx.x % 128);
  }
#endif
}

constexpr int kCombineRows = 8;  // rows per CTA, one warp each

__global__ void __launch_bounds__(32 * kCombineRows) sage_combine_parts_kernel(const SageParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  const int row = blockIdx.x * kCombineRows + threadIdx.x / 32;  // among the parted tiles' rows
  combine_row(p, row / kBlockM, row % kBlockM, threadIdx.x % 32);
#endif
}

}  // namespace

void hopper_sage_attention(const SageDeviceInputs& in, const Tensor& out, const Tensor& selected) {
  if (selected.defined()) {
    hopper_sage_sparse_attention(in, out, selected);
    return;
  }
  CudaContext& ctx = CudaContext::get(out.device().index);
  static PerDeviceOnce prepared;
  prepared(out.device().index, [] {
    for (auto* kernel : {sage_attention_hopper_kernel<false>, sage_attention_hopper_kernel<true>})
      FV_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         int(kSmemBytes)));
  });
  SageParams p{sage_common(in, out)};
  // Each key block's 4 scales reach shared memory in one 16-byte bulk copy.
  FV_CHECK(reinterpret_cast<uintptr_t>(p.k_scales) % 16 == 0 && p.k_scale_count % 4 == 0,
           "SAGE_ATTN: the pre-pass's key scales must start 16-byte aligned, 4 per key block (got ",
           p.k_scale_count, " per head)");
  p.q_tiles = (p.seq_q + kBlockM - 1) / kBlockM;
  p.kv_tiles = (p.seq_k + kBlockN - 1) / kBlockN;
  const int tiles = int(in.q_int8.size(0)) * p.heads * p.q_tiles, sms = ctx.info().sm_count;
  p.splits = sage_tail_splits(tiles, p.kv_tiles, sms);
  // An empty key range would never release its Q tile: the kernel would hang.
  FV_CHECK(p.kv_tiles >= p.splits, "SAGE_ATTN: ", p.splits, " key ranges for ", p.kv_tiles,
           " key blocks");
  p.whole_tiles = p.splits > 1 ? tiles - tiles % sms : tiles;
  const int parted_tiles = tiles - p.whole_tiles;
  p.parts = parted_tiles * p.splits;
  Tensor partial_o, partial_ml;
  if (p.parts > 0) {
    partial_o = Tensor::empty({p.parts, kBlockM, kD}, DType::F32, out.device());
    partial_ml = Tensor::empty({p.parts, kBlockM, 2}, DType::F32, out.device());
    p.partial_o = partial_o.data<float>();
    p.partial_ml = reinterpret_cast<float2*>(partial_ml.data<float>());
  }
  const CUtensorMap tm_q = int8_rows_map(in.q_int8, kBlockM),
                    tm_k = int8_rows_map(in.k_int8, kBlockN), tm_v = v_transposed_map(in.v_fp8_t);
  if (p.whole_tiles > 0) {
    sage_attention_hopper_kernel<false>
        <<<std::min(p.whole_tiles, sms), kThreads, kSmemBytes, ctx.stream()>>>(tm_q, tm_k, tm_v, p);
    FV_CUDA_CHECK_LAUNCH();
  }
  if (p.parts > 0) {
    sage_attention_hopper_kernel<true>
        <<<std::min(p.parts, sms), kThreads, kSmemBytes, ctx.stream()>>>(tm_q, tm_k, tm_v, p);
    FV_CUDA_CHECK_LAUNCH();
    sage_combine_parts_kernel<<<parted_tiles * kBlockM / kCombineRows, 32 * kCombineRows, 0,
                                ctx.stream()>>>(p);
    FV_CUDA_CHECK_LAUNCH();
  }
}

}  // namespace fastvideo::ops::cuda
