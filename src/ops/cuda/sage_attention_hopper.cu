// SAGE_ATTN's Hopper kernel (sm_90a): SageAttention2's recipe (ops/sage_attention.h, the contract,
// steps 3, 4 and 6) on the FLASH_ATTN Hopper pipeline (flash_attention_hopper.cu), reading the
// pre-pass's INT8 Q and K and FP8 Vᵀ (ops/cuda/sage_kernels.h).
//
// Shape (SageAttention's own sm90 choice, attention-algorithms.md §5.3): one warpgroup per CTA on
// 64 query rows, 128 keys per step (the contract's key block), head dim 128, three CTAs per SM.
// With no producer warpgroup and no ping-pong, the three CTAs' warpgroups interleave on the SM: one
// runs its softmax while another's GEMMs hold the tensor cores. (The first version, FLASH_ATTN's
// two consumers taking turns on 128-row tiles, ran each step's chain Q·Kᵀ -> softmax -> P̃·V
// serially per warpgroup and reached only 0.94x FLASH_ATTN.)
// Shared:     Q 8 KiB (int8, one 128-byte row per query: the 128-byte swizzle's row); per stage K
//             16 KiB (int8) and Vᵀ 16 KiB (E4M3, 128 channel rows of 128 keys); 2 stages: 72 KiB.
//             Thread 0 issues every TMA load; a stage is refilled once the whole warpgroup is
//             past the step that read it.
// Per step, each warpgroup:
//   S = Q·Kᵀ by wgmma m64n128k32 s8·s8 -> s32 (both from shared memory);
//   S to f32 exactly (|S| <= 128·127² < 2^22, so int + 0x4B400000 read as a float is 12582912 + S)
//   times q_scale·k_scale, which is one number per thread: the thread's rows share a Query group
//   and its columns a Key group (the contract's groups follow this fragment);
//   online softmax in base 2 with P̃ = exp2(S − m + log2 448); the base moves whenever a row's max
//   grows (P̃ must stay within E4M3's 448); l adds the f32 P̃;
//   P̃ to E4M3 in the A-register layout of wgmma k32 (four consecutive k per register), which
//   takes the thread's accumulator columns 2t, 2t+1, 8+2t, 9+2t of each 16: the pre-pass stored
//   Vᵀ's keys in that order (sage_v_slot);
//   T = P̃·V by wgmma m64n128k32 e4m3·e4m3 -> f32 into a zeroed temporary, then O = O·corr + T in
//   f32 (two-level accumulation: the FP8 MMA accumulates with ~22 bits).
// Epilogue: O · v_scale[channel] / l, bf16, raster rows.
//
// Tested by tests/cuda_sage_attention_test.cpp against the CPU contract (ops::cpu::sage_attention).
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/hopper_attention.cuh"
#include "ops/cuda/sage_kernels.h"
#include "ops/sage_attention.h"

namespace fastvideo::ops::cuda {

namespace {

using namespace hopper;

constexpr int kBlockM = int(kSageQueryBlock);  // 64: one warpgroup
constexpr int kBlockN = int(kSageKeyBlock);
constexpr int kD = int(kSageHeadDim);
constexpr int kStages = 2;
constexpr int kThreads = 128;
constexpr int kCtasPerSm = 3;
constexpr uint32_t kQTileBytes = kBlockM * kD;  // int8
constexpr uint32_t kKTileBytes = kBlockN * kD;
constexpr uint32_t kVTileBytes = kD * kBlockN;  // E4M3
constexpr uint32_t kBarrierBytes = 64;
constexpr size_t kSmemBytes =
    1024 /* alignment slack */ + kQTileBytes + kStages * (kKTileBytes + kVTileBytes) + kBarrierBytes;
static_assert(kBlockN == 128 && kD == 128, "the k32 steps and the fragment packing assume 128");
static_assert(kCtasPerSm * (kSmemBytes + 1024) <= 228 * 1024, "three CTAs must fit an SM");

struct SageParams {
  __nv_bfloat16* out;  // [B, Sq, H, 128]
  const float* q_scales;
  const float* k_scales;
  const float* v_scales;
  const int32_t* selected;  // [B, H, q_tiles, steps] key blocks, or null: every block
  int heads, seq_q, seq_k, q_tiles, kv_tiles, steps, q_scale_count, k_scale_count;
};

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

constexpr int kSteps = 4;  // k32 steps of either GEMM (128 channels, 128 keys)

// [Q][K stages][Vᵀ stages][barriers], tiles 1024-byte aligned.
struct SmemMap {
  uint32_t base;
  __device__ uint32_t q() const { return base; }
  __device__ uint32_t k(int s) const { return base + kQTileBytes + kKTileBytes * s; }
  __device__ uint32_t v(int s) const {
    return base + kQTileBytes + kKTileBytes * kStages + kVTileBytes * s;
  }
  __device__ uint32_t bar(int i) const {
    return base + kQTileBytes + (kKTileBytes + kVTileBytes) * kStages + 8 * i;
  }
  __device__ uint32_t q_full() const { return bar(0); }
  __device__ uint32_t k_full(int s) const { return bar(1 + s); }
  __device__ uint32_t v_full(int s) const { return bar(1 + kStages + s); }
};
static_assert((1 + 2 * kStages) * 8 <= int(kBarrierBytes));

// S[64 x 128] = Q[this warpgroup's rows] · K_tileᵀ in s32; k32 step kk is 32 bytes along the row.
__device__ __forceinline__ void issue_qk(uint32_t (&acc)[64], uint32_t q_rows, uint32_t k_tile) {
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
    wgmma_m64n128k32_s8_ss(acc, smem_desc_sw128(q_rows + kk * 32, 16, 1024),
                           smem_desc_sw128(k_tile + kk * 32, 16, 1024), kk > 0 ? 1 : 0);
}

// T[64 x 128] = P̃[64 x 128 keys] · V_tile, Vᵀ K-major (one 128-byte row of keys per channel).
__device__ __forceinline__ void issue_pv(float (&t)[64], const uint32_t (&pf)[kSteps][4],
                                         uint32_t v_tile) {
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk)
    wgmma_m64n128k32_e4m3_rs(t, pf[kk], smem_desc_sw128(v_tile + kk * 32, 16, 1024),
                             kk > 0 ? 1 : 0);
}

// Four P̃ to one register of E4M3, the first in the lowest byte.
__device__ __forceinline__ uint32_t pack_e4m3x4(float a, float b, float c, float d) {
  return pack_e4m3x2(a, b) | pack_e4m3x2(c, d) << 16;
}

// P̃ (f32, accumulator layout) to the A operand of the k32 steps: step kk covers n8 blocks
// 4kk .. 4kk + 3; registers 0/1 rows t/4 and t/4 + 8 from blocks 4kk, 4kk + 1, registers 2/3 from
// blocks 4kk + 2, 4kk + 3 (keys ordered as sage_v_slot says).
__device__ __forceinline__ void scores_to_e4m3(const float (&s)[64], uint32_t (&pf)[kSteps][4]) {
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk) {
    const float* b0 = s + 16 * kk;  // blocks 4kk .. 4kk + 3, four accumulators each
    pf[kk][0] = pack_e4m3x4(b0[0], b0[1], b0[4], b0[5]);
    pf[kk][1] = pack_e4m3x4(b0[2], b0[3], b0[6], b0[7]);
    pf[kk][2] = pack_e4m3x4(b0[8], b0[9], b0[12], b0[13]);
    pf[kk][3] = pack_e4m3x4(b0[10], b0[11], b0[14], b0[15]);
  }
}

// K and Vᵀ of key block `block` into the stage of step j, j % kStages (thread 0 only).
__device__ __forceinline__ void load_kv(const CUtensorMap* tm_k, const CUtensorMap* tm_v,
                                        const SmemMap& sm, int j, int block, int head, int batch) {
  const int stage = j % kStages;
  mbarrier_arrive_expect_tx(sm.k_full(stage), kKTileBytes);
  tma_load_4d(sm.k(stage), tm_k, sm.k_full(stage), 0, head, block * kBlockN, batch);
  mbarrier_arrive_expect_tx(sm.v_full(stage), kVTileBytes);
  tma_load_4d(sm.v(stage), tm_v, sm.v_full(stage), block * kBlockN, 0, head, batch);
}

// One CTA: query tile blockIdx.x (64 rows) of head blockIdx.y, batch item blockIdx.z.
__device__ void attend(const CUtensorMap* tm_q, const CUtensorMap* tm_k, const CUtensorMap* tm_v,
                       const SageParams& p, const SmemMap& sm) {
  const int q0 = blockIdx.x * kBlockM, head = blockIdx.y, batch = blockIdx.z;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int last = p.steps - 1;
  const int64_t bh = int64_t(batch) * p.heads + head;
  // Step j's key block: the j-th selected one (SageSLA), or block j.
  const int32_t* list =
      p.selected != nullptr ? p.selected + (bh * p.q_tiles + blockIdx.x) * p.steps : nullptr;
  const auto key_block = [&](int j) { return list != nullptr ? int(list[j]) : j; };
  if (threadIdx.x == 0) {
    mbarrier_arrive_expect_tx(sm.q_full(), kQTileBytes);
    tma_load_4d(sm.q(), tm_q, sm.q_full(), 0, head, q0, batch);
    for (int j = 0; j < kStages && j <= last; ++j)
      load_kv(tm_k, tm_v, sm, j, key_block(j), head, batch);
  }
  // The thread's Query group: 64-row block, warp slab, row pair (ops/sage_attention.h).
  const float q_scale = p.q_scales[bh * p.q_scale_count + blockIdx.x * 32 + warp * 8 + lane / 4];
  const float* k_scales = p.k_scales + bh * p.k_scale_count + lane % 4;
  float o[64], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
#pragma unroll
  for (int i = 0; i < 64; ++i) o[i] = 0.f;
  mbarrier_wait(sm.q_full(), 0);

  for (int j = 0; j <= last; ++j) {
    const int stage = j % kStages;
    const uint32_t phase = (j / kStages) & 1;
    const int block = key_block(j);
    const float qk = q_scale * k_scales[4 * block];
    uint32_t acc[64];
    mbarrier_wait(sm.k_full(stage), phase);
    fence_operands(acc);
    wgmma_fence();
    issue_qk(acc, sm.q(), sm.k(stage));
    wgmma_commit();
    wgmma_wait<0>();
    fence_operands(acc);

    // Dequantize, mask keys past the sequence, and the block's softmax step.
    float s[64];
    const int valid = p.seq_k - block * kBlockN;  // keys of this block inside the sequence
    const auto dequantized = [&](int i) {
      return (__int_as_float(int(acc[i]) + 0x4B400000) - 12582912.f) * qk;
    };
    if (valid >= kBlockN) {
#pragma unroll
      for (int i = 0; i < 64; ++i) s[i] = dequantized(i);
    } else {
#pragma unroll
      for (int i = 0; i < 64; ++i)
        s[i] = accumulator_column(i / 4, lane, i % 4) < valid ? dequantized(i) : -INFINITY;
    }
    float corr[2], base[2];
    bool grows = false;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = m[r];
#pragma unroll
      for (int i = 0; i < 16; ++i) mx = fmaxf(mx, fmaxf(s[4 * i + 2 * r], s[4 * i + 2 * r + 1]));
      mx = quad_max(mx);
      grows |= mx > m[r];
      corr[r] = exp2_approx(m[r] - mx);  // 0 on the first block (m = −∞)
      m[r] = mx;
      base[r] = mx - kSageLog2PMax;
    }
    float sum[2] = {0.f, 0.f};
#pragma unroll
    for (int i = 0; i < 16; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[4 * i + e] = exp2_approx(s[4 * i + e] - base[e / 2]);
        sum[e / 2] += s[4 * i + e];
      }
    l[0] = l[0] * corr[0] + sum[0];
    l[1] = l[1] * corr[1] + sum[1];
    uint32_t pf[kSteps][4];
    scores_to_e4m3(s, pf);

    float tmp[64];
    mbarrier_wait(sm.v_full(stage), phase);
    fence_operands(tmp);
    fence_operands(pf);
    wgmma_fence();
    issue_pv(tmp, pf, sm.v(stage));
    wgmma_commit();
    // O's rescale overlaps the P̃·V on the tensor cores; skipped when no row's base moved.
    if (__any_sync(0xffffffffu, grows)) rescale(o, corr);
    wgmma_wait<0>();
    fence_operands(tmp);
    fence_operands(pf);
#pragma unroll
    for (int i = 0; i < 64; ++i) o[i] += tmp[i];
    // Every warp is past this stage's K and Vᵀ: refill it with block j + kStages.
    if (j + kStages <= last) {
      named_barrier_sync(1, kThreads);
      if (threadIdx.x == 0) load_kv(tm_k, tm_v, sm, j + kStages, key_block(j + kStages), head, batch);
    }
  }

  // Epilogue: O · v_scale / l, bf16 pairs (4 threads cover 8 channels of a row).
  const float* v_scales = p.v_scales + bh * kD + 2 * (lane % 4);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float inv = 1.f / quad_sum(l[r]);
    const int q = q0 + warp * 16 + lane / 4 + 8 * r;
    if (q >= p.seq_q) continue;
    __nv_bfloat16* out =
        p.out + ((int64_t(batch) * p.seq_q + q) * p.heads + head) * kD + 2 * (lane % 4);
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const float2 vs = *reinterpret_cast<const float2*>(v_scales + 8 * i);
      *reinterpret_cast<uint32_t*>(out + 8 * i) =
          pack_bf16x2(o[4 * i + 2 * r] * vs.x * inv, o[4 * i + 2 * r + 1] * vs.y * inv);
    }
  }
}

#endif  // sm_90a or host pass

__global__ void __launch_bounds__(kThreads, kCtasPerSm)
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
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(sm.k_full(s), 1);
      mbarrier_init(sm.v_full(s), 1);
    }
    fence_barrier_init();
  }
  __syncthreads();
  attend(&tm_q, &tm_k, &tm_v, p, sm);
#endif
}

// A TMA map over bytes: dims innermost first, strides in bytes for dims 1.., a 128-byte swizzled
// box (its innermost extent is 128 bytes).
CUtensorMap byte_tensor_map(const Tensor& t, int rank, const cuuint64_t* dims,
                            const cuuint64_t* strides, const cuuint32_t* box) {
  const cuuint32_t element_strides[4] = {1, 1, 1, 1};
  CUtensorMap map;
  const CUresult r = tensor_map_encoder()(
      &map, CU_TENSOR_MAP_DATA_TYPE_UINT8, rank, t.raw_data(), dims, strides, box,
      element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  FV_CHECK(r == CUDA_SUCCESS, "SAGE_ATTN: cuTensorMapEncodeTiled failed (CUresult ", int(r),
           ") for ", t.describe());
  return map;
}

// [B, S, H, 128] int8, boxes of `rows` rows of one head.
CUtensorMap int8_rows_map(const Tensor& t, uint32_t rows) {
  const uint64_t B = t.size(0), S = t.size(1), H = t.size(2);
  const cuuint64_t dims[4] = {uint64_t(kD), H, S, B};
  const cuuint64_t strides[3] = {uint64_t(kD), H * kD, S * H * kD};
  const cuuint32_t box[4] = {uint32_t(kD), 1, rows, 1};
  return byte_tensor_map(t, 4, dims, strides, box);
}

// Vᵀ [B, H, 128, S_pad] E4M3, boxes of 128 keys x 128 channels of one head.
CUtensorMap v_transposed_map(const Tensor& t) {
  const uint64_t B = t.size(0), H = t.size(1), S_pad = t.size(3);
  const cuuint64_t dims[4] = {S_pad, uint64_t(kD), H, B};
  const cuuint64_t strides[3] = {S_pad, kD * S_pad, H * kD * S_pad};
  const cuuint32_t box[4] = {uint32_t(kBlockN), uint32_t(kD), 1, 1};
  return byte_tensor_map(t, 4, dims, strides, box);
}

}  // namespace

void hopper_sage_attention(const SageDeviceInputs& in, const Tensor& out, const Tensor& selected) {
  CudaContext& ctx = CudaContext::get(out.device().index);
  static const bool prepared = [] {
    FV_CUDA_CHECK(cudaFuncSetAttribute(sage_attention_hopper_kernel,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       int(kSmemBytes)));
    // All of the SM's unified L1/shared memory as shared, so three CTAs fit.
    FV_CUDA_CHECK(cudaFuncSetAttribute(sage_attention_hopper_kernel,
                                       cudaFuncAttributePreferredSharedMemoryCarveout,
                                       int(cudaSharedmemCarveoutMaxShared)));
    return true;
  }();
  (void)prepared;
  SageParams p{};
  p.out = out.data<__nv_bfloat16>();
  p.q_scales = in.q_scales.data<float>();
  p.k_scales = in.k_scales.data<float>();
  p.v_scales = in.v_scales.data<float>();
  p.heads = int(in.q_int8.size(2));
  p.seq_q = int(in.q_int8.size(1));
  p.seq_k = int(in.k_int8.size(1));
  p.q_tiles = (p.seq_q + kBlockM - 1) / kBlockM;
  p.kv_tiles = (p.seq_k + kBlockN - 1) / kBlockN;
  p.steps = p.kv_tiles;
  if (selected.defined()) {
    FV_CHECK(selected.dtype() == DType::I32 && selected.ndim() == 4 &&
                 selected.size(0) == in.q_int8.size(0) && selected.size(1) == p.heads &&
                 selected.size(2) == p.q_tiles && selected.size(3) >= 1 &&
                 selected.size(3) <= p.kv_tiles && selected.is_contiguous(),
             "SAGE_ATTN: the block selection must be contiguous I32 [", in.q_int8.size(0), ", ",
             p.heads, ", ", p.q_tiles, ", 1..", p.kv_tiles, "], got ", selected.describe());
    p.selected = selected.data<int32_t>();
    p.steps = int(selected.size(3));
  }
  p.q_scale_count = int(in.q_scales.size(2));
  p.k_scale_count = int(in.k_scales.size(2));
  FV_CHECK(in.q_int8.size(0) <= 65535 && p.heads <= 65535,
           "SAGE_ATTN: batch ", in.q_int8.size(0), " or heads ", p.heads, " above 65535");
  const CUtensorMap tm_q = int8_rows_map(in.q_int8, kBlockM),
                    tm_k = int8_rows_map(in.k_int8, kBlockN),
                    tm_v = v_transposed_map(in.v_fp8_t);
  const dim3 grid(p.q_tiles, p.heads, int(in.q_int8.size(0)));
  sage_attention_hopper_kernel<<<grid, kThreads, kSmemBytes, ctx.stream()>>>(tm_q, tm_k, tm_v, p);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
