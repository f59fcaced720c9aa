// SLA's linear branch on its key side in one pass (sla_kernels.h, sla_key_state): per chunk of
// kChunkRows tokens of one (batch, head), φ(k) in shared memory, then the chunk's part of the
// state φ(k)ᵀ·v and of Σφ(k) on the tensor cores (mma.sync, so every sm_80+ GPU runs it; Σφ(k) is
// φ(k)ᵀ·1, an extra n8 tile whose B fragment is ones); a second kernel adds the chunks' parts in
// order (no atomics: the same bits every run). cuBLASLt cannot take the feature map as a prologue,
// and apart these steps wrote φ(k) to memory and read it back.
//
// The pass has to stream k and v at memory speed: CTAs of 8 warps, two on every SM of a Hopper
// (1,536-token chunks give the 1.3B shape's 12 heads 264 CTAs, two per SM of a 132-SM card; the
// size is fixed, not taken from the grid, so the sums' grouping and bits do not depend on batch or
// heads), tiles of 64 tokens in a cp.async ring of 3 stages (2 where a block's shared memory is
// under 102 KiB: sm_86, sm_89; the bits are the same), and φ on eight lanes a row, so a warp maps
// four rows with one chain of 3 + 3 shuffles; a whole warp to a row, one row after another, the
// chains of 5 + 5 held the pass to a third of the bandwidth (docs/perf.md, session 53). The mma
// stage: warp w computes state rows 16w .. 16w + 15 (channels of φ(k)) over every value channel.
// Shared rows are padded to 272 bytes so that ldmatrix's eight 16-byte rows fall in different
// banks. For SageSLA the same pass can fill SAGE's k and v statistics (SageStatistics), which
// spares SAGE's pre-pass a read of every k and v token (docs/perf.md, session 56).
#include <cuda_bf16.h>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
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
constexpr int kChunkRows = 1536;  // tokens per CTA
constexpr int kThreads = 256;     // 8 warps of 16 state rows
constexpr int kWarps = kThreads / 32;
constexpr int kCtasPerSm = 2;
constexpr int kPitch = kDim + 8;        // bf16 elements per shared row (272 bytes)
constexpr int kChunks = kDim * 2 / 16;  // 16-byte chunks of a row
constexpr int kTiles = kDim / 8;        // n8 column tiles of a state row block
constexpr int kTileElems = kTileRows * kPitch;
// k and v per stage.
constexpr int smem_bytes(int stages) { return stages * 2 * kTileElems * 2; }
// The static part: a 128-token block's first Σk (SAGE's statistics).
constexpr int kStaticSmemBytes = kDim * 4;
constexpr int kStatBlock = 128;  // SAGE's statistics sum k over 128 keys (sage_kernels.h)
static_assert(kStatBlock == 2 * kTileRows && kChunkRows % kStatBlock == 0);
// The feature map's layout: eight lanes to a row, each with two 16-byte chunks (16 channels) of
// it, so a warp maps four rows at once, its 8 rows of a tile in two rounds.
constexpr int kRowLanes = 8;
constexpr int kRounds = 2;
constexpr int kLaneValues = kDim / kRowLanes;
constexpr uint32_t kBf16OnesX2 = 0x3F803F80u;  // two bf16 1.0
static_assert(kDim == 16 * kWarps, "a warp holds 16 state rows");
static_assert(kTileRows == kWarps * (32 / kRowLanes) * kRounds, "a warp maps 8 rows a tile");
static_assert(kLaneValues == 16, "a lane maps chunks p and p + 8 of a row");
static_assert(kChunkRows % kTileRows == 0);
static_assert(kCtasPerSm * (smem_bytes(3) + kStaticSmemBytes + 1024) <= 228 * 1024,
              "two CTAs fit a Hopper SM");

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

// φ(k) in place on a tile, rounded to BF16: warp w's rows 8w .. 8w + 7, four at once: in round
// r, lane group g (lane / 8) maps row 8w + 4r + g, lane p (lane % 8) of the group chunks p and
// p + 8 of it, so a quarter warp reads one row's 128 contiguous bytes (no bank conflict). Rows
// from `valid` on become zero (their k was zero-filled, whose softmax would not be).
__device__ __forceinline__ void map_tile(__nv_bfloat16* tile, int valid, SlaFeatureMap map,
                                         int warp, int lane) {
  const int group = lane / kRowLanes, part = lane % kRowLanes;
#pragma unroll 1
  for (int round = 0; round < kRounds; ++round) {
    const int row = 8 * warp + 4 * round + group;
    auto chunk = [&](int c) {
      return reinterpret_cast<Bf16x8*>(tile + row * kPitch + 8 * (part + 8 * c));
    };
    float x[1][kLaneValues];
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      const Bf16x8 in = load(chunk(c));
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float2 f = __bfloat1622float2(in.v[e]);
        x[0][8 * c + 2 * e] = f.x;
        x[0][8 * c + 2 * e + 1] = f.y;
      }
    }
    sla_feature_map(
        x, map, [](float m) { return group_max<kRowLanes>(m); },
        [](float t) { return group_sum<kRowLanes>(t); });
    const bool in = row < valid;
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      Bf16x8 out;
#pragma unroll
      for (int e = 0; e < 4; ++e)
        out.v[e] = in ? __floats2bfloat162_rn(x[0][8 * c + 2 * e], x[0][8 * c + 2 * e + 1])
                      : __floats2bfloat162_rn(0.f, 0.f);
      store(chunk(c), out);
    }
  }
}

// Grid (chunks, H, B). partial_state [B·H, chunks, D, D] f32 (row d, column e), partial_sum
// [B·H, chunks, D] f32. With stats.k_sums, also SAGE's statistics (sla_kernels.h): warp w's
// 16 channels of k summed over each 128 tokens as kᵀ·1 on the raw tile before map_tile overwrites
// it, and of max|v| from the v fragments its mma loads anyway.
template <int kStages>
__global__ void __launch_bounds__(kThreads, kCtasPerSm)
    key_state_kernel(const __nv_bfloat16* k, const __nv_bfloat16* v, int tokens, int heads,
                     SlaFeatureMap map, float* partial_state, float* partial_sum,
                     SageStatistics stats) {
  extern __shared__ __align__(16) __nv_bfloat16 smem[];
  const int chunk = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int chunks = gridDim.x;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int s0 = chunk * kChunkRows, rows = min(kChunkRows, tokens - s0);
  const int tiles = (rows + kTileRows - 1) / kTileRows;
  const int64_t stride = int64_t(heads) * kDim;
  const int64_t first = ((int64_t(b) * tokens + s0) * heads + h) * kDim;
  auto k_tile = [&](int tile) { return smem + (tile % kStages) * kTileElems; };
  auto v_tile = [&](int tile) { return smem + (kStages + tile % kStages) * kTileElems; };
  auto fetch = [&](int tile) {
    if (tile < tiles) {
      const int64_t at = first + int64_t(tile) * kTileRows * stride;
      load_tile(k_tile(tile), v_tile(tile), k + at, v + at, stride, rows - tile * kTileRows);
    }
    cp_async_commit();  // an empty group past the end keeps the wait count below uniform
  };

  for (int tile = 0; tile < kStages - 1; ++tile) fetch(tile);
  // acc[kTiles]: Σφ(k), the product with a column of ones.
  float acc[kTiles + 1][4] = {};
  const bool with_stats = stats.k_sums != nullptr;
  __shared__ float first_tile_k_sum[kStaticSmemBytes / 4];  // a 128-token block's first tile's Σk
  __nv_bfloat162 v_max[2] = {};  // max|v| of channels 16w + lane / 4 and + 8, over token pairs
  // ldmatrix_x4_trans lane addresses: A (φᵀ: state rows d, k = tokens s) takes token row
  // 8·(lane / 16) + lane % 8 and channel + 8·((lane / 8) % 2) of a 16x16 block; B (v: k = s,
  // n = value channel e) token row lane % 8 + 8·((lane / 8) % 2) and channel + 8·(lane / 16).
  const int a_row = 8 * (lane / 16) + lane % 8, a_col = 16 * warp + 8 * ((lane / 8) % 2);
  const int b_row = lane % 8 + 8 * ((lane / 8) % 2), b_col = 8 * (lane / 16);
  for (int tile = 0; tile < tiles; ++tile) {
    cp_async_wait<kStages - 2>();
    // Tile `tile` is in, and every warp is past the previous tile: its stage takes the tile
    // kStages - 1 on.
    __syncthreads();
    fetch(tile + kStages - 1);
    __nv_bfloat16* kt = k_tile(tile);
    if (with_stats) {
      // The tile's Σk (zero-filled rows add nothing); every column of the ones tile holds it.
      float k_sum[4] = {};
#pragma unroll
      for (int kk = 0; kk < kTileRows / 16; ++kk) {
        uint32_t a[4];
        ldmatrix_x4_trans(a, smem_u32(kt + (16 * kk + a_row) * kPitch + a_col));
        mma_m16n8k16_bf16(k_sum, a, kBf16OnesX2, kBf16OnesX2);
      }
      // A 128-token block's first tile waits in shared memory (the same lane adds it back), so
      // no registers stay held across tiles.
      if (lane % 4 == 0) {
        float* kept = first_tile_k_sum + 16 * warp + lane / 4;
        if (tile % 2 == 1) k_sum[0] += kept[0], k_sum[2] += kept[8];
        if (tile % 2 == 1 || tile == tiles - 1) {
          const int64_t block = (s0 + tile * kTileRows) / kStatBlock;
          const int blocks = (tokens + kStatBlock - 1) / kStatBlock;
          float* out = stats.k_sums + (int64_t(b) * blocks + block) * stride + h * kDim +
                       16 * warp + lane / 4;
          out[0] = k_sum[0];
          out[8] = k_sum[2];
        } else {
          kept[0] = k_sum[0];
          kept[8] = k_sum[2];
        }
      }
      __syncthreads();  // every warp has read the raw rows before any maps them
    }
    map_tile(kt, rows - tile * kTileRows, map, warp, lane);
    __syncthreads();
    const __nv_bfloat16* vt = v_tile(tile);
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
        // Warp w's share of max|v|: bf[0..1] hold tokens 2t, 2t + 1 (+ 8) of channel
        // 8j + lane / 4, bf[2..3] of channel 8j + 8 + lane / 4 (zero-filled rows are 0).
        if (with_stats && j == 2 * warp)
#pragma unroll
          for (int i = 0; i < 4; ++i)
            v_max[i / 2] =
                __hmax2(v_max[i / 2], __habs2(*reinterpret_cast<const __nv_bfloat162*>(&bf[i])));
      }
      mma_m16n8k16_bf16(acc[kTiles], a, kBf16OnesX2, kBf16OnesX2);
    }
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
  // Every column of the ones tile holds the row's sum: the quad's first lane writes it.
  if (lane % 4 == 0)
#pragma unroll
    for (int half = 0; half < 2; ++half)
      partial_sum[part * kDim + 16 * warp + lane / 4 + 8 * half] = acc[kTiles][2 * half];
  if (with_stats) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const float m = quad_max(fmaxf(__low2float(v_max[half]), __high2float(v_max[half])));
      // Non-negative floats order as their bits do.
      if (lane % 4 == 0)
        atomicMax(
            stats.v_absmax + (int64_t(b) * heads + h) * kDim + 16 * warp + lane / 4 + 8 * half,
            __float_as_uint(m));
    }
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

template <int kStages>
void launch_key_state(const void* k, const void* v, int64_t batch, int64_t tokens, int64_t heads,
                      SlaFeatureMap map, float* partial_state, float* partial_sum,
                      const SageStatistics& stats, int device, cudaStream_t stream) {
  static PerDeviceOnce prepared;
  prepared(device, [] {
    FV_CUDA_CHECK(cudaFuncSetAttribute(key_state_kernel<kStages>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       smem_bytes(kStages)));
    FV_CUDA_CHECK(cudaFuncSetAttribute(key_state_kernel<kStages>,
                                       cudaFuncAttributePreferredSharedMemoryCarveout,
                                       int(cudaSharedmemCarveoutMaxShared)));
  });
  const dim3 grid{unsigned(chunk_count(tokens)), unsigned(heads), unsigned(batch)};
  key_state_kernel<kStages><<<grid, kThreads, smem_bytes(kStages), stream>>>(
      static_cast<const __nv_bfloat16*>(k), static_cast<const __nv_bfloat16*>(v), int(tokens),
      int(heads), map, partial_state, partial_sum, stats);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace

int64_t sla_key_state_workspace(int64_t batch, int64_t tokens, int64_t heads) {
  return batch * heads * chunk_count(tokens) * (kDim * kDim + kDim);
}

void sla_key_state(const void* k, const void* v, int64_t batch, int64_t tokens, int64_t heads,
                   SlaFeatureMap map, float* workspace, float* state, float* ksum,
                   cudaStream_t stream, const SageStatistics& stats, int stages) {
  check_chunk_aligned("SLA key state", 16, {k, v});
  int device = 0;
  FV_CUDA_CHECK(cudaGetDevice(&device));  // the caller's, whose stream this is
  // The device's limit as CudaContext read it once, not a driver query on every call.
  const int optin = int(CudaContext::get(device).info().shared_memory_per_block_optin);
  if (stages == 0) stages = optin >= smem_bytes(3) + kStaticSmemBytes ? 3 : 2;
  FV_CHECK(stages == 2 || stages == 3, "SLA key state: ", stages, " stages asked, it runs 2 or 3");
  FV_CHECK(smem_bytes(stages) + kStaticSmemBytes <= optin, "SLA key state: ", stages,
           " stages need ", smem_bytes(stages) + kStaticSmemBytes,
           " bytes of shared memory a block; GPU ", device, " allows ", optin);
  const int64_t chunks = chunk_count(tokens), batch_heads = batch * heads;
  float* partial_state = workspace;
  float* partial_sum = workspace + batch_heads * chunks * kDim * kDim;
  FV_CHECK((stats.k_sums == nullptr) == (stats.v_absmax == nullptr),
           "SLA key state: SAGE's statistics need both k_sums and v_absmax");
  if (stages == 3)
    launch_key_state<3>(k, v, batch, tokens, heads, map, partial_state, partial_sum, stats, device,
                        stream);
  else
    launch_key_state<2>(k, v, batch, tokens, heads, map, partial_state, partial_sum, stats, device,
                        stream);
  const int64_t total = batch_heads * (kDim * kDim + kDim);
  key_state_sum_kernel<<<unsigned((total + 255) / 256), 256, 0, stream>>>(
      partial_state, partial_sum, batch_heads, int(chunks), state, ksum);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
