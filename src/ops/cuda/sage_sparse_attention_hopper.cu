// SAGE_ATTN's Hopper kernel over block lists (sm_90a), SageSLA's sparse branch: each 64-row query
// block attends to its own selected 128-key blocks, each step as sage_hopper.cuh says. The dense
// kernel (sage_attention_hopper.cu) shares each K/Vᵀ tile among three query blocks, which block
// lists that differ per query block rule out.
//
// Shape (SageAttention's own sm90 choice, attention-algorithms.md §5.3): one warpgroup per CTA on
// one 64-row query block, three CTAs per SM. With no producer warpgroup, the three CTAs'
// warpgroups interleave on the SM: one runs its softmax while another's GEMMs hold the tensor
// cores. Shared:     Q 8 KiB (int8, one 128-byte row per query: the 128-byte swizzle's row); per
// stage K
//             16 KiB (int8) and Vᵀ 16 KiB (E4M3) followed by 1 KiB of E4M3 ones (P̃·V's row sums,
//             sage_hopper.cuh); 2 stages: 74 KiB. Thread 0 issues every TMA load; a stage is
//             refilled once the whole warpgroup is past the step that read it. Three CTAs then
//             fill the SM's 228 KiB exactly, with the barriers in the alignment slack (SmemMap).
//
// With SageSLA's linear branch (SageLinearTerm) the epilogue adds it to the output rows before
// their one rounding (sla_linear_rows.cuh), where a kernel of its own read the rows back and wrote
// them again (200 MB at the 1.3B shape). Its operands take shared memory that the steps are done
// with: q's rows the Vᵀ stage the last step does not read, as that step begins; M the Q tile and
// the K stages after it.
//
// Tested by tests/cuda_sage_attention_test.cpp (SageSLA against the CPU op over the same blocks).
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/bf16_vectors.cuh"
#include "ops/cuda/sage_hopper.cuh"
#include "ops/cuda/sla_linear_rows.cuh"

namespace fastvideo::ops::cuda {

namespace {

using namespace sage_hopper;

constexpr int kBlockM = int(kSageQueryBlock);  // 64: one warpgroup
constexpr int kStages = 2;
constexpr int kThreads = 128;
constexpr int kCtasPerSm = 3;
constexpr uint32_t kQTileBytes = kBlockM * kD;  // int8
constexpr uint32_t kBarrierBytes = 64;
constexpr uint32_t kTileBytes = kQTileBytes + kStages * (kKTileBytes + kVStageBytes);
// The 1024-byte alignment slack also holds the barriers: before the tiles when the slack has
// room, else after them (then the slack left below the tiles is under kBarrierBytes).
constexpr size_t kSmemBytes = 1024 + kTileBytes;
// 1 KiB of each CTA's shared memory is the system's.
static_assert(kCtasPerSm * (kSmemBytes + 1024) <= 228 * 1024, "three CTAs must fit an SM");

struct SparseParams : SageCommon {
  const int32_t* selected;  // [B, H, q_tiles, steps] key blocks
  int q_tiles, steps;
  SageLinearTerm linear;  // m == nullptr: none
};

// The linear branch's operands in shared memory: q's 64 rows (bf16, pitch kSlaRowPitch) in the Vᵀ
// stage that the last step does not use, fetched as the last step begins so that their DRAM
// latency overlaps it; once the last step is done, M[b, h]'s 128 rows (the same layout), Σφ(k) and
// the bias (f32) from the Q tile on, over both K stages.
static_assert(kStages == 2, "the stage of step last - 1 is the one the last step does not read");
constexpr uint32_t kLinearQBytes = kBlockM * kSlaRowPitch * 2;
constexpr uint32_t kLinearMBytes = kD * kSlaRowPitch * 2;
static_assert(kLinearQBytes <= kVStageBytes, "q's rows fit a Vᵀ stage");
static_assert(kLinearMBytes + 2 * kD * 4 <= kQTileBytes + kStages * kKTileBytes,
              "M, Σφ(k) and the bias fit the Q tile and the K stages");

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

// [Q][K stages][Vᵀ stage + ones, per stage], tiles 1024-byte aligned from `base`; the barriers
// at `bars`, in the slack below base or after the tiles.
struct SmemMap {
  uint32_t base, bars;
  __device__ static SmemMap at(uint32_t raw) {
    const uint32_t base = (raw + 1023u) & ~1023u;
    return {base, base - raw >= kBarrierBytes ? base - kBarrierBytes : base + kTileBytes};
  }
  __device__ uint32_t q() const { return base; }
  __device__ uint32_t k(int s) const { return base + kQTileBytes + kKTileBytes * s; }
  __device__ uint32_t v(int s) const {
    return base + kQTileBytes + kKTileBytes * kStages + kVStageBytes * s;
  }
  __device__ uint32_t bar(int i) const { return bars + 8 * i; }
  __device__ uint32_t q_full() const { return bar(0); }
  __device__ uint32_t k_full(int s) const { return bar(1 + s); }
  __device__ uint32_t v_full(int s) const { return bar(1 + kStages + s); }
};
static_assert((1 + 2 * kStages) * 8 <= int(kBarrierBytes));

// K and Vᵀ of key block `block` into the stage of step j, j % kStages (thread 0 only).
__device__ __forceinline__ void load_kv(const CUtensorMap* tm_k, const CUtensorMap* tm_v,
                                        const SmemMap& sm, int j, int block, int head, int batch) {
  const int stage = j % kStages;
  mbarrier_arrive_expect_tx(sm.k_full(stage), kKTileBytes);
  tma_load_4d(sm.k(stage), tm_k, sm.k_full(stage), 0, head, block * kBlockN, batch);
  mbarrier_arrive_expect_tx(sm.v_full(stage), kVTileBytes);
  tma_load_4d(sm.v(stage), tm_v, sm.v_full(stage), block * kBlockN, 0, head, batch);
}

// q's rows q0 .. q0 + 63 of (batch, head) into `rows` (bf16, pitch kSlaRowPitch; rows past seq_q
// zero) by cp.async, committed as one group.
__device__ __forceinline__ void fetch_linear_q(const SparseParams& p, __nv_bfloat16* rows, int q0,
                                               int head, int batch) {
  const auto* q = static_cast<const __nv_bfloat16*>(p.linear.q) +
                  ((int64_t(batch) * p.seq_q + q0) * p.heads + head) * kD;
  sla_load_rows<kThreads>(rows, q, int64_t(p.heads) * kD, kBlockM, min(kBlockM, p.seq_q - q0));
  ampere::cp_async_commit();
}

__device__ __forceinline__ __nv_bfloat16* linear_q_rows(const SmemMap& sm, uint8_t* smem_raw,
                                                        int last) {
  return reinterpret_cast<__nv_bfloat16*>(smem_raw +
                                          (sm.v((last + 1) % kStages) - smem_u32(smem_raw)));
}

// The output rows with SageSLA's linear branch added (SageLinearTerm) before their one rounding:
// O · v_scale / l (store_output's values) + φ̃·M + bias. Every warp must be past its last step:
// the Q tile and the K stages then take M, Σφ(k) and the bias (cp.async, then ldmatrix); q's rows
// are in linear_q_rows, fetched during the last step (or now, where there was one step only).
__device__ __forceinline__ void store_with_linear(float (&o)[64], const float (&l)[2],
                                                  const SparseParams& p, const SmemMap& sm,
                                                  uint8_t* smem_raw, int q0, int head, int batch,
                                                  int warp, int lane, int last) {
  using namespace ampere;
  auto at = [&](uint32_t addr) { return smem_raw + (addr - smem_u32(smem_raw)); };
  __nv_bfloat16* q_rows = linear_q_rows(sm, smem_raw, last);
  if (last == 0) fetch_linear_q(p, q_rows, q0, head, batch);
  auto* m_rows = reinterpret_cast<__nv_bfloat16*>(at(sm.q()));
  auto* ksum = reinterpret_cast<float*>(at(sm.q() + kLinearMBytes));
  float* bias = ksum + kD;
  const int64_t bh = int64_t(batch) * p.heads + head;
  sla_load_rows<kThreads>(m_rows, static_cast<const __nv_bfloat16*>(p.linear.m) + bh * kD * kD, kD,
                          kD, kD);
  cp_async_commit();
  ksum[threadIdx.x] = p.linear.ksum[bh * kD + threadIdx.x];
  bias[threadIdx.x] = p.linear.bias[threadIdx.x];
  scale_output(o, l, p.v_scales, p.heads, head, batch, lane);
  cp_async_wait<0>();
  __syncthreads();
  sla_add_linear_rows(o, q_rows + 16 * warp * kSlaRowPitch, m_rows, ksum, p.linear.map, lane);
  store_rows(o, bias, p.out, q0 + 16 * warp + lane / 4, p.seq_q, p.heads, head, batch, lane);
}

// One CTA: query block blockIdx.x (64 rows) of head blockIdx.y, batch item blockIdx.z.
__device__ void attend(const CUtensorMap* tm_q, const CUtensorMap* tm_k, const CUtensorMap* tm_v,
                       const SparseParams& p, const SmemMap& sm, uint8_t* smem_raw) {
  const int q0 = blockIdx.x * kBlockM, head = blockIdx.y, batch = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int last = p.steps - 1;
  const int64_t bh = int64_t(batch) * p.heads + head;
  const int32_t* list = p.selected + (bh * p.q_tiles + blockIdx.x) * p.steps;
  if (threadIdx.x == 0) {
    mbarrier_arrive_expect_tx(sm.q_full(), kQTileBytes);
    tma_load_4d(sm.q(), tm_q, sm.q_full(), 0, head, q0, batch);
    for (int j = 0; j < kStages && j <= last; ++j) load_kv(tm_k, tm_v, sm, j, list[j], head, batch);
  }
  // The thread's Query group: 64-row block, warp slab, row pair (ops/sage_attention.h).
  const float q_scale = p.q_scales[bh * p.q_scale_count + blockIdx.x * 32 + warp * 8 + lane / 4];
  const float* k_scales = p.k_scales + bh * p.k_scale_count + lane % 4;
  float o[64], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
#pragma unroll
  for (int i = 0; i < 64; ++i) o[i] = 0.f;
  mbarrier_wait(sm.q_full(), 0);

  int block = list[0];
  float k_scale = k_scales[4 * block];
  for (int j = 0; j <= last; ++j) {
    const int stage = j % kStages;
    const uint32_t phase = (j / kStages) & 1;
    uint32_t acc[64];
    mbarrier_wait(sm.k_full(stage), phase);
    fence_operands(acc);
    wgmma_fence();
    issue_qk(acc, tile_desc(sm.q()), tile_desc(sm.k(stage)));
    wgmma_commit();
    // The next step's block and key scale, loaded while the tensor cores work.
    const int next_block = j < last ? list[j + 1] : 0;
    const float next_k_scale = k_scales[4 * next_block];
    wgmma_wait<0>();
    fence_operands(acc);

    uint32_t pf[kSteps][4];
    float corr[2];
    const bool grows =
        softmax_step(acc, q_scale * k_scale, p.seq_k - block * kBlockN, lane, m, pf, corr);
    block = next_block;
    k_scale = next_k_scale;
    mbarrier_wait(sm.v_full(stage), phase);
    accumulate_pv(o, l, pf, corr, grows, tile_desc(sm.v(stage)), [] {});
    // Every warp is past this stage's K and Vᵀ: refill it with the block of step j + kStages.
    if (j + kStages <= last) {
      named_barrier_sync(1, kThreads);
      if (threadIdx.x == 0) load_kv(tm_k, tm_v, sm, j + kStages, list[j + kStages], head, batch);
    } else if (j + 1 == last && p.linear.m != nullptr) {
      // The last step is next and reads the other stage (two stages): this one's Vᵀ stage takes
      // the linear branch's q rows once every warp is past it.
      named_barrier_sync(1, kThreads);
      fetch_linear_q(p, linear_q_rows(sm, smem_raw, last), q0, head, batch);
    }
  }
  if (p.linear.m != nullptr) {
    // Every warp is past its last step (the last P̃·V wgmma waited), so the stages are free.
    named_barrier_sync(1, kThreads);
    store_with_linear(o, l, p, sm, smem_raw, q0, head, batch, warp, lane, last);
    return;
  }
  store_output(o, l, p.v_scales, p.out, q0 + warp * 16 + lane / 4, p.seq_q, p.heads, head, batch,
               lane);
}

#endif  // sm_90a or host pass

__global__ void __launch_bounds__(kThreads, kCtasPerSm)
    sage_sparse_attention_hopper_kernel(const __grid_constant__ CUtensorMap tm_q,
                                        const __grid_constant__ CUtensorMap tm_k,
                                        const __grid_constant__ CUtensorMap tm_v,
                                        const SparseParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t smem_raw[];
  const SmemMap sm = SmemMap::at(smem_u32(smem_raw));
  if (threadIdx.x == 0) {
    prefetch_tensor_map(&tm_q);
    prefetch_tensor_map(&tm_k);
    prefetch_tensor_map(&tm_v);
    mbarrier_init(sm.q_full(), 1);
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(sm.k_full(s), 1);
      mbarrier_init(sm.v_full(s), 1);
    }
    fence_barrier_init();
  }
  write_ones(smem_raw, kStages, kThreads, [&](int s) { return sm.v(s); });
  __syncthreads();
  attend(&tm_q, &tm_k, &tm_v, p, sm, smem_raw);
#endif
}

}  // namespace

void hopper_sage_sparse_attention(const SageDeviceInputs& in, const Tensor& out,
                                  const Tensor& selected, const SageLinearTerm* linear) {
  CudaContext& ctx = CudaContext::get(out.device().index);
  static PerDeviceOnce prepared;
  prepared(out.device().index, [] {
    FV_CUDA_CHECK(cudaFuncSetAttribute(sage_sparse_attention_hopper_kernel,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       int(kSmemBytes)));
    // All of the SM's unified L1/shared memory as shared, so three CTAs fit.
    FV_CUDA_CHECK(cudaFuncSetAttribute(sage_sparse_attention_hopper_kernel,
                                       cudaFuncAttributePreferredSharedMemoryCarveout,
                                       int(cudaSharedmemCarveoutMaxShared)));
  });
  SparseParams p{sage_common(in, out), nullptr, 0, 0, linear ? *linear : SageLinearTerm{}};
  if (linear) {
    check_chunk_aligned("SageSLA's linear branch", 16, {linear->q, linear->m});
    FV_CHECK(linear->ksum && linear->bias, "SageSLA's linear branch needs Σφ(k) and the bias");
  }
  p.q_tiles = (p.seq_q + kBlockM - 1) / kBlockM;
  const int kv_tiles = (p.seq_k + kBlockN - 1) / kBlockN;
  FV_CHECK(selected.dtype() == DType::I32 && selected.ndim() == 4 &&
               selected.size(0) == in.q_int8.size(0) && selected.size(1) == p.heads &&
               selected.size(2) == p.q_tiles && selected.size(3) >= 1 &&
               selected.size(3) <= kv_tiles && selected.is_contiguous(),
           "SAGE_ATTN: the block selection must be contiguous I32 [", in.q_int8.size(0), ", ",
           p.heads, ", ", p.q_tiles, ", 1..", kv_tiles, "], got ", selected.describe());
  p.selected = selected.data<int32_t>();
  p.steps = int(selected.size(3));
  FV_CHECK(in.q_int8.size(0) <= 65535 && p.heads <= 65535,
           "SAGE_ATTN: batch ", in.q_int8.size(0), " or heads ", p.heads, " above 65535");
  const CUtensorMap tm_q = int8_rows_map(in.q_int8, kBlockM),
                    tm_k = int8_rows_map(in.k_int8, kBlockN), tm_v = v_transposed_map(in.v_fp8_t);
  const dim3 grid(p.q_tiles, p.heads, int(in.q_int8.size(0)));
  sage_sparse_attention_hopper_kernel<<<grid, kThreads, kSmemBytes, ctx.stream()>>>(tm_q, tm_k,
                                                                                    tm_v, p);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
