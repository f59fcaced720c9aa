// SLA's linear branch on its key side in one pass (sla_kernels.h, sla_key_state): per chunk of
// kChunkRows tokens of one (batch, head), φ(k) row by row in shared memory, then the chunk's part
// of the state φ(k)ᵀ·v on the tensor cores (mma.sync, so every sm_80+ GPU runs it) and of Σφ(k);
// a second kernel adds the chunks' parts in order (no atomics: the same bits every run). cuBLASLt
// cannot take the feature map as a prologue, and apart these steps wrote φ(k) to memory and read
// it back.
//
// CTA: 8 warps. Tiles of 64 tokens are double-buffered (cp.async): while one is used, the next
// loads. On a tile, warp w first maps rows w, w + 8, ... in place (lane l channels 4l .. 4l + 3),
// then computes state rows 16w .. 16w + 15 (channels of φ(k)) over every value channel. Shared
// rows are padded to 272 bytes so that ldmatrix's eight 16-byte rows fall in different banks.
#include <cuda_bf16.h>

#include "core/cuda/cuda_check.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/ampere_ptx.cuh"
#include "ops/cuda/bf16_vectors.cuh"
#include "ops/cuda/ptx_common.cuh"
#include "ops/cuda/sla_feature_map.cuh"
#include "ops/cuda/sla_kernels.h"

namespace fastvideo::ops::cuda {

namespace {

using ampere::cp_async_cg_16;
using ampere::cp_async_commit;
using ampere::cp_async_wait;
using ampere::ldmatrix_x4_trans;
using ampere::mma_m16n8k16_bf16;

constexpr int kDim = int(kSlaHeadDim);
constexpr int kTileRows = 64;     // tokens per pipeline tile
constexpr int kChunkRows = 2048;  // tokens per CTA
constexpr int kThreads = 256;     // 8 warps of 16 state rows
constexpr int kWarps = kThreads / 32;
constexpr int kPitch = kDim + 8;        // bf16 elements per shared row (272 bytes)
constexpr int kChunks = kDim * 2 / 16;  // 16-byte chunks of a row
constexpr int kTiles = kDim / 8;        // n8 column tiles of a state row block
constexpr int kTileElems = kTileRows * kPitch;
constexpr int kSmemBytes = 2 * 2 * kTileElems * 2;  // k and v, two buffers each
static_assert(kDim == 16 * kWarps, "a warp holds 16 state rows");
static_assert(kDim == 4 * 32, "a lane maps four channels of a row");

int64_t chunk_count(int64_t tokens) { return (tokens + kChunkRows - 1) / kChunkRows; }

// Tile `tile` of the chunk (rows from `first`, `valid` of them in the sequence) into shared rows.
__device__ __forceinline__ void load_tile(__nv_bfloat16* k_dst, __nv_bfloat16* v_dst,
                                          const __nv_bfloat16* k, const __nv_bfloat16* v,
                                          int64_t stride, int valid) {
  for (int c = threadIdx.x; c < kTileRows * kChunks; c += kThreads) {
    const int r = c / kChunks, part = c % kChunks;
    const bool in = r < valid;
    const int64_t at = in ? r * stride + 8 * part : 0;
    cp_async_cg_16(smem_u32(k_dst + r * kPitch + 8 * part), k + at, in ? 16 : 0);
    cp_async_cg_16(smem_u32(v_dst + r * kPitch + 8 * part), v + at, in ? 16 : 0);
  }
}

// Grid (chunks, H, B). partial_state [B·H, chunks, D, D] f32 (row d, column e), partial_sum
// [B·H, chunks, D] f32.
__global__ void __launch_bounds__(kThreads)
    key_state_kernel(const __nv_bfloat16* k, const __nv_bfloat16* v, int tokens, int heads,
                     SlaFeatureMap map, float* partial_state, float* partial_sum) {
  extern __shared__ __align__(16) __nv_bfloat16 smem[];
  __shared__ float warp_sums[kWarps][kDim];
  const int chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int chunks = gridDim.x;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int s0 = chunk * kChunkRows, rows = min(kChunkRows, tokens - s0);
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  const int64_t stride = int64_t(heads) * kDim;
  const int64_t first = ((int64_t(b) * tokens + s0) * heads + h) * kDim;
  auto k_tile = [&](int buf) { return smem + buf * kTileElems; };
  auto v_tile = [&](int buf) { return smem + (2 + buf) * kTileElems; };

  load_tile(k_tile(0), v_tile(0), k + first, v + first, stride, rows);
  cp_async_commit();
  float acc[kTiles][4] = {};
  float sum[4] = {};
  // ldmatrix_x4_trans lane addresses: A (φᵀ: state rows d, k = tokens s) takes token row
  // 8·(lane / 16) + lane % 8 and channel + 8·((lane / 8) % 2) of a 16x16 block; B (v: k = s,
  // n = value channel e) token row lane % 8 + 8·((lane / 8) % 2) and channel + 8·(lane / 16).
  const int a_row = 8 * (lane / 16) + lane % 8, a_col = 16 * warp + 8 * ((lane / 8) % 2);
  const int b_row = lane % 8 + 8 * ((lane / 8) % 2), b_col = 8 * (lane / 16);
  for (int tile = 0; tile < tiles; ++tile) {
    const int buf = tile % 2;
    if (tile + 1 < tiles) {
      const int next = (tile + 1) * kTileRows;
      load_tile(k_tile(1 - buf), v_tile(1 - buf), k + first + next * stride,
                v + first + next * stride, stride, rows - next);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    // φ(k) in place, rounded to BF16; rows past the sequence become zero (their k was zero-filled,
    // whose softmax would not be).
    __nv_bfloat16* kt = k_tile(buf);
    const int tile_valid = rows - tile * kTileRows;
    for (int r = warp; r < kTileRows; r += kWarps) {
      auto* p = reinterpret_cast<Bf16x4*>(kt + r * kPitch + 4 * lane);
      if (r >= tile_valid) {
        store(p, Bf16x4{{__floats2bfloat162_rn(0.f, 0.f), __floats2bfloat162_rn(0.f, 0.f)}});
        continue;
      }
      const Bf16x4 in = load(p);
      const float2 lo = __bfloat1622float2(in.v[0]), hi = __bfloat1622float2(in.v[1]);
      float x[4] = {lo.x, lo.y, hi.x, hi.y};
      sla_feature_map(
          x, map, [](float m) { return warp_max(m); }, [](float t) { return warp_sum(t); });
      const Bf16x4 rounded{{__floats2bfloat162_rn(x[0], x[1]), __floats2bfloat162_rn(x[2], x[3])}};
      store(p, rounded);
      const float2 rlo = __bfloat1622float2(rounded.v[0]), rhi = __bfloat1622float2(rounded.v[1]);
      sum[0] += rlo.x;
      sum[1] += rlo.y;
      sum[2] += rhi.x;
      sum[3] += rhi.y;
    }
    __syncthreads();
    const __nv_bfloat16* vt = v_tile(buf);
#pragma unroll
    for (int kk = 0; kk < kTileRows / 16; ++kk) {
      uint32_t a[4];
      ldmatrix_x4_trans(a, smem_u32(kt + (16 * kk + a_row) * kPitch + a_col));
#pragma unroll
      for (int j = 0; j < kTiles; j += 2) {
        uint32_t bf[4];
        ldmatrix_x4_trans(bf, smem_u32(vt + (16 * kk + b_row) * kPitch + 8 * j + b_col));
        mma_m16n8k16_bf16(acc[j], a, bf[0], bf[1]);
        mma_m16n8k16_bf16(acc[j + 1], a, bf[2], bf[3]);
      }
    }
    __syncthreads();  // this buffer is loaded again two tiles on
  }

  const int64_t part = (int64_t(b) * heads + h) * chunks + chunk;
  float* state = partial_state + part * kDim * kDim;
#pragma unroll
  for (int j = 0; j < kTiles; ++j)
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int d = 16 * warp + lane / 4 + 8 * half, e = accumulator_column(j, lane, 0);
      *reinterpret_cast<float2*>(state + d * kDim + e) =
          make_float2(acc[j][2 * half], acc[j][2 * half + 1]);
    }
#pragma unroll
  for (int i = 0; i < 4; ++i) warp_sums[warp][4 * lane + i] = sum[i];
  __syncthreads();
  if (threadIdx.x < kDim) {
    float total = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) total += warp_sums[w][threadIdx.x];
    partial_sum[part * kDim + threadIdx.x] = total;
  }
}

// Thread per element of state [B·H, D, D] and then of ksum [B·H, D]: the chunks' parts in order.
__global__ void key_state_sum_kernel(const float* partial_state, const float* partial_sum,
                                     int64_t batch_heads, int chunks, float* state, float* ksum) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t state_elems = batch_heads * kDim * kDim;
  if (i < state_elems) {
    const int64_t bh = i / (kDim * kDim), at = i % (kDim * kDim);
    const float* p = partial_state + bh * chunks * kDim * kDim + at;
    float total = 0.f;
    for (int c = 0; c < chunks; ++c) total += p[int64_t(c) * kDim * kDim];
    state[i] = total;
  } else if (i < state_elems + batch_heads * kDim) {
    const int64_t j = i - state_elems, bh = j / kDim, d = j % kDim;
    const float* p = partial_sum + bh * chunks * kDim + d;
    float total = 0.f;
    for (int c = 0; c < chunks; ++c) total += p[int64_t(c) * kDim];
    ksum[j] = total;
  }
}

}  // namespace

int64_t sla_key_state_workspace(int64_t batch, int64_t tokens, int64_t heads) {
  return batch * heads * chunk_count(tokens) * (kDim * kDim + kDim);
}

void sla_key_state(const void* k, const void* v, int64_t batch, int64_t tokens, int64_t heads,
                   SlaFeatureMap map, float* workspace, float* state, float* ksum,
                   cudaStream_t stream) {
  check_chunk_aligned("SLA key state", 16, {k, v});
  int device = 0;
  FV_CUDA_CHECK(cudaGetDevice(&device));  // the caller's, whose stream this is
  static PerDeviceOnce prepared;
  prepared(device, [] {
    FV_CUDA_CHECK(cudaFuncSetAttribute(key_state_kernel,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
    FV_CUDA_CHECK(cudaFuncSetAttribute(key_state_kernel,
                                       cudaFuncAttributePreferredSharedMemoryCarveout,
                                       int(cudaSharedmemCarveoutMaxShared)));
  });
  const int64_t chunks = chunk_count(tokens), batch_heads = batch * heads;
  float* partial_state = workspace;
  float* partial_sum = workspace + batch_heads * chunks * kDim * kDim;
  const dim3 grid{unsigned(chunks), unsigned(heads), unsigned(batch)};
  key_state_kernel<<<grid, kThreads, kSmemBytes, stream>>>(
      static_cast<const __nv_bfloat16*>(k), static_cast<const __nv_bfloat16*>(v), int(tokens),
      int(heads), map, partial_state, partial_sum);
  FV_CUDA_CHECK_LAUNCH();
  const int64_t total = batch_heads * (kDim * kDim + kDim);
  key_state_sum_kernel<<<unsigned((total + 255) / 256), 256, 0, stream>>>(
      partial_state, partial_sum, batch_heads, int(chunks), state, ksum);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
