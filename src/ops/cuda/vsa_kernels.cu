#include "ops/cuda/vsa_kernels.h"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <type_traits>

#include "core/cuda/cuda_check.h"
#include "fastvideo/error.h"
#include "ops/cuda/bf16_vectors.cuh"
#include "ops/cuda/ptx_common.cuh"

namespace fastvideo::ops::cuda {

namespace {

constexpr int kTileTokens = 64;
constexpr int kThreads = 256;

// One CTA per (tile, batch item): every (head, 8-channel group) of the tile's 64 slots, copied in
// slot order (consecutive threads take consecutive 16-byte chunks of a token's row) and summed in
// f32 for the mean. Each thread loads kRowsInFlight slots before it adds any; a padding slot reads
// token 0's row and zeroes it, where a branch around each load kept one in flight per thread
// (47 -> 42-44 µs for the 1.3B's q on an H100, ncu, session 51: ~2.4 TB/s).
constexpr int kRowsInFlight = 8;

template <class Means>
__global__ void tile_with_means_kernel(const Bf16x8* x, int64_t tokens, int64_t row_chunks,
                                       int64_t num_tiles, const int32_t* token_of_slot,
                                       const int32_t* tile_sizes, Bf16x8* tiled, Means* means) {
  const int64_t tile = blockIdx.x, b = blockIdx.y;
  __shared__ int32_t slot_token[kTileTokens];
  if (threadIdx.x < kTileTokens)
    slot_token[threadIdx.x] = token_of_slot[tile * kTileTokens + threadIdx.x];
  __syncthreads();
  const float inv = 1.f / float(tile_sizes[tile]);
  for (int64_t c = threadIdx.x; c < row_chunks; c += kThreads) {
    float sum[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    for (int r0 = 0; r0 < kTileTokens; r0 += kRowsInFlight) {
      Bf16x8 value[kRowsInFlight];
#pragma unroll
      for (int u = 0; u < kRowsInFlight; ++u)
        value[u] = load(x + (b * tokens + max(slot_token[r0 + u], 0)) * row_chunks + c);
#pragma unroll
      for (int u = 0; u < kRowsInFlight; ++u) {
        const __nv_bfloat162 zero = __float2bfloat162_rn(0.f);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          if (slot_token[r0 + u] < 0) value[u].v[i] = zero;
          const float2 f = __bfloat1622float2(value[u].v[i]);
          sum[2 * i] += f.x;
          sum[2 * i + 1] += f.y;
        }
        if (tiled != nullptr)
          store(tiled + ((b * num_tiles + tile) * kTileTokens + r0 + u) * row_chunks + c,
                value[u]);
      }
    }
    if constexpr (std::is_same_v<Means, float4>) {
      float4* m = means + ((b * num_tiles + tile) * row_chunks + c) * 2;
      m[0] = make_float4(sum[0] * inv, sum[1] * inv, sum[2] * inv, sum[3] * inv);
      m[1] = make_float4(sum[4] * inv, sum[5] * inv, sum[6] * inv, sum[7] * inv);
    } else {  // BF16 means, rounded once from the f32 sums (FastVideo's fused_block_mean)
      Bf16x8 m;
#pragma unroll
      for (int i = 0; i < 4; ++i)
        m.v[i] = __floats2bfloat162_rn(sum[2 * i] * inv, sum[2 * i + 1] * inv);
      store(means + (b * num_tiles + tile) * row_chunks + c, m);
    }
  }
}

struct MaxOf {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

__device__ __forceinline__ uint32_t order_key(float x) {
  const uint32_t bits = __float_as_uint(x);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

__device__ __forceinline__ float score_of_key(uint32_t key) {
  return __uint_as_float((key & 0x80000000u) ? key & 0x7fffffffu : ~key);
}

// Rows of up to kWarpRowKeys scores (VSA's 624 tiles at 480p, FastWan's 364, SLA's 512 key
// blocks at 1.3B, SageSLA's 256), one warp each, the row in registers (lane l holds scores l,
// l + 32, ...): the k-th largest key bit by bit from the top (32 warp-wide counts), then the
// selection compacted in index order by ballots, then, given probs, the row's softmax in BF16. For
// the 1.3B's 7,488 rows this takes 72 µs against the CTA-per-row kernel's 90 (H100, ncu, session
// 51). 24 chunks and six CTAs of four warps per SM keep it at 80 registers. Every count walks all
// kChunks chunks a lane may hold, so shorter rows take a kernel built for fewer (8 or 16): at 24,
// SageSLA's 6,144 rows of 256 took 36 µs against SLA's 3,072 rows of 512 at 23.
constexpr int kWarpRowChunks = 24;  // 32-score chunks a lane holds, at most
constexpr int kWarpRowKeys = 32 * kWarpRowChunks;
constexpr int kSelectWarps = 4;     // rows per CTA

template <int kChunks>
__global__ void __launch_bounds__(32 * kSelectWarps, 6)
    select_by_warp_kernel(const float* scores, int64_t rows, int n, int64_t ld, int topk,
                          int32_t* selected, __nv_bfloat16* probs) {
  static_assert(kChunks <= kWarpRowChunks);
  const int64_t row = int64_t(blockIdx.x) * kSelectWarps + threadIdx.x / 32;
  if (row >= rows) return;  // whole warps leave: every sync below is warp-wide
  const int lane = threadIdx.x % 32, chunks = (n + 31) / 32;
  const float* in = scores + row * ld;
  uint32_t key[kChunks];  // 0 past the row: the all-ones -NaN's key, below every other
  float local_max = -INFINITY;
#pragma unroll
  for (int i = 0; i < kChunks; ++i) {
    key[i] = 0u;
    if (i < chunks && i * 32 + lane < n) {
      const float s = in[i * 32 + lane];
      key[i] = order_key(s);
      local_max = fmaxf(local_max, s);
    }
  }
  // The largest t with at least topk keys >= t is the k-th largest key.
  uint32_t kth = 0u;
  for (int bit = 31; bit >= 0; --bit) {
    const uint32_t candidate = kth | (1u << bit);
    unsigned count = 0;
#pragma unroll
    for (int i = 0; i < kChunks; ++i)
      if (i < chunks) count += key[i] >= candidate;
    if (__reduce_add_sync(0xffffffffu, count) >= unsigned(topk)) kth = candidate;
  }
  unsigned greater = 0;
#pragma unroll
  for (int i = 0; i < kChunks; ++i)
    if (i < chunks) greater += key[i] > kth;
  const int ties = topk - int(__reduce_add_sync(0xffffffffu, greater));  // equal keys to keep

  int32_t* out = selected + row * topk;
  const uint32_t below = (1u << lane) - 1u;
  int taken = 0, ties_seen = 0;
#pragma unroll
  for (int i = 0; i < kChunks; ++i) {
    if (i >= chunks) break;
    const int j = i * 32 + lane;
    const bool equal = j < n && key[i] == kth;
    const uint32_t equal_mask = __ballot_sync(0xffffffffu, equal);
    const bool take =
        key[i] > kth || (equal && ties_seen + __popc(equal_mask & below) < ties);
    const uint32_t take_mask = __ballot_sync(0xffffffffu, take);
    if (take) out[taken + __popc(take_mask & below)] = j;
    taken += __popc(take_mask);
    ties_seen += __popc(equal_mask);
  }
  if (probs == nullptr) return;

  const float mx = warp_max(local_max);
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < kChunks; ++i)
    if (i < chunks && i * 32 + lane < n) sum += expf(score_of_key(key[i]) - mx);
  const float inv = 1.f / warp_sum(sum);
  __nv_bfloat16* out_row = probs + row * ld;
#pragma unroll
  for (int i = 0; i < kChunks; ++i)
    if (i < chunks && i * 32 + lane < n)
      out_row[i * 32 + lane] = __float2bfloat16_rn(expf(score_of_key(key[i]) - mx) * inv);
}

// Longer rows: one CTA per row; the row's order keys in shared memory. The k-th largest key by
// four 8-bit radix passes (most significant first), then the selection compacted in index order
// with block scans, then, given probs, the row's softmax written there in BF16.
__global__ void select_and_softmax_kernel(const float* scores, int64_t n, int64_t ld,
                                          int64_t topk, int32_t* selected,
                                          __nv_bfloat16* probs) {
  using Scan = cub::BlockScan<int, kThreads>;
  using Reduce = cub::BlockReduce<float, kThreads>;
  __shared__ union {
    typename Scan::TempStorage scan;
    typename Reduce::TempStorage reduce;
  } temp;
  __shared__ int histogram[256];
  __shared__ uint32_t prefix_shared;
  __shared__ int remaining_shared;
  __shared__ float broadcast;
  extern __shared__ uint32_t keys[];

  const float* row = scores + int64_t(blockIdx.x) * ld;
  int32_t* out = selected + int64_t(blockIdx.x) * topk;
  float local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    const float s = row[j];
    keys[j] = order_key(s);
    local_max = fmaxf(local_max, s);
  }
  if (threadIdx.x == 0) {
    prefix_shared = 0;
    remaining_shared = int(topk);
  }
  uint32_t mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += kThreads) histogram[i] = 0;
    __syncthreads();
    const uint32_t prefix = prefix_shared;
    for (int64_t j = threadIdx.x; j < n; j += kThreads) {
      const uint32_t key = keys[j];
      if ((key & mask) == prefix) atomicAdd(&histogram[(key >> shift) & 255u], 1);
    }
    __syncthreads();
    if (threadIdx.x < 32) {
      // Lane i holds bins 255 - 8i .. 248 - 8i (highest first); a warp scan finds the lane whose
      // bins reach the remaining count, and that lane walks its eight.
      const int lane = threadIdx.x, top = 255 - 8 * lane;
      int own = 0;
      for (int i = 0; i < 8; ++i) own += histogram[top - i];
      int before = own;  // inclusive prefix over lanes, then made exclusive
      for (int offset = 1; offset < 32; offset *= 2) {
        const int x = __shfl_up_sync(0xffffffffu, before, offset);
        if (lane >= offset) before += x;
      }
      before -= own;
      const int remaining = remaining_shared;
      const unsigned reach = __ballot_sync(0xffffffffu, before + own >= remaining);
      if (lane == __ffs(reach) - 1) {
        int above = before, bin = top;
        for (; bin > top - 7 && above + histogram[bin] < remaining; --bin) above += histogram[bin];
        remaining_shared = remaining - above;
        prefix_shared = prefix | (uint32_t(bin) << shift);
      }
    }
    mask |= 255u << shift;
    __syncthreads();
  }
  const uint32_t kth = prefix_shared;
  const int ties = remaining_shared;  // keys equal to the k-th to keep, lowest index first

  int ties_before = 0, taken_before = 0;
  for (int64_t base = 0; base < n; base += kThreads) {
    const int64_t j = base + threadIdx.x;
    const uint32_t key = j < n ? keys[j] : 0u;
    const int equal = j < n && key == kth;
    int tie_rank, equal_total;
    Scan(temp.scan).ExclusiveSum(equal, tie_rank, equal_total);
    __syncthreads();
    const int take = j < n && (key > kth || (equal && ties_before + tie_rank < ties));
    int position, taken_total;
    Scan(temp.scan).ExclusiveSum(take, position, taken_total);
    __syncthreads();
    if (take) out[taken_before + position] = int32_t(j);
    ties_before += equal_total;
    taken_before += taken_total;
  }
  if (probs == nullptr) return;  // uniform over the CTA: no barrier below is left half-reached

  const float row_max = Reduce(temp.reduce).Reduce(local_max, MaxOf());
  if (threadIdx.x == 0) broadcast = row_max;
  __syncthreads();
  const float mx = broadcast;
  float local_sum = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) local_sum += expf(row[j] - mx);
  const float sum = Reduce(temp.reduce).Sum(local_sum);
  if (threadIdx.x == 0) broadcast = sum;
  __syncthreads();
  const float inv = 1.f / broadcast;
  __nv_bfloat16* out_row = probs + int64_t(blockIdx.x) * ld;
  for (int64_t j = threadIdx.x; j < n; j += kThreads)
    out_row[j] = __float2bfloat16_rn(expf(row[j] - mx) * inv);
}

// One thread per 8 channels of one (batch, token, head).
__global__ void untile_combine_kernel(const Bf16x8* fine, const float4* coarse, const Bf16x8* gate,
                                      const int32_t* slot_of_token, int64_t tokens,
                                      int64_t row_chunks, int64_t num_tiles, int64_t total,
                                      Bf16x8* out) {
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= total) return;
  const int64_t c = i % row_chunks, token = (i / row_chunks) % tokens,
                b = i / (row_chunks * tokens);
  const int64_t slot = slot_of_token[token];
  Bf16x8 value = load(fine + (b * num_tiles * kTileTokens + slot) * row_chunks + c);
  if (gate != nullptr) {
    const Bf16x8 g = load(gate + i);
    const float4* cp = coarse + ((b * num_tiles + slot / kTileTokens) * row_chunks + c) * 2;
    const float4 c0 = cp[0], c1 = cp[1];
    const float cs[8] = {c0.x, c0.y, c0.z, c0.w, c1.x, c1.y, c1.z, c1.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const float2 f = __bfloat1622float2(value.v[k]);
      const float2 gf = __bfloat1622float2(g.v[k]);
      value.v[k] = __floats2bfloat162_rn(f.x + gf.x * cs[2 * k], f.y + gf.y * cs[2 * k + 1]);
    }
  }
  store(out + i, value);
}

}  // namespace

void vsa_tile_with_means(const void* x, int64_t batch, int64_t tokens, int64_t heads,
                         int64_t head_dim, int64_t num_tiles, const int32_t* token_of_slot,
                         const int32_t* tile_sizes, void* tiled, void* means, DType means_dtype,
                         cudaStream_t stream) {
  check_chunk_aligned("VSA tiling", 16, {x, tiled, means});
  FV_CHECK(means_dtype == DType::F32 || means_dtype == DType::BF16,
           "VSA tiling: tile means in F32 or BF16, not ", dtype_name(means_dtype));
  const dim3 grid{unsigned(num_tiles), unsigned(batch)};
  const auto launch = [&](auto* typed_means) {
    tile_with_means_kernel<<<grid, kThreads, 0, stream>>>(
        static_cast<const Bf16x8*>(x), tokens, heads * head_dim / 8, num_tiles, token_of_slot,
        tile_sizes, static_cast<Bf16x8*>(tiled), typed_means);
  };
  if (means_dtype == DType::F32)
    launch(static_cast<float4*>(means));
  else
    launch(static_cast<Bf16x8*>(means));
  FV_CUDA_CHECK_LAUNCH();
}

int64_t vsa_select_max_row() {
  // 160 KiB of keys, or what the device lets one CTA have beside the kernel's static shared memory
  // where that is less (99 KiB per CTA on sm_86/89, where asking for 160 KiB fails). Set once per
  // device (kernel attributes belong to a GPU's context), at the first call with it current.
  static std::mutex mutex;
  static std::map<int, int64_t> max_rows;
  int device = 0;
  FV_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard lock(mutex);
  if (auto it = max_rows.find(device); it != max_rows.end()) return it->second;
  const int64_t max_row = [device] {
    int optin = 0;
    FV_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
    cudaFuncAttributes attributes{};
    FV_CUDA_CHECK(cudaFuncGetAttributes(&attributes, select_and_softmax_kernel));
    const size_t bytes =
        std::min(size_t(160 * 1024), size_t(optin) - attributes.sharedSizeBytes) / 16 * 16;
    FV_CUDA_CHECK(cudaFuncSetAttribute(select_and_softmax_kernel,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
    return int64_t(bytes / sizeof(uint32_t));
  }();
  max_rows[device] = max_row;
  return max_row;
}

void vsa_select_and_softmax(const float* scores, int64_t rows, int64_t n, int64_t ld,
                            int64_t topk, int32_t* selected, void* bf16_probs,
                            cudaStream_t stream) {
  FV_CHECK(topk >= 1 && topk <= n, "block selection: top ", topk, " of rows of ", n,
           " scores (1 to the row's length)");
  FV_CHECK(n <= vsa_select_max_row(), "block selection: rows of ", n,
           " scores are more than its kernel holds in shared memory on this GPU (",
           vsa_select_max_row(), ")");
  if (n <= kWarpRowKeys) {
    const auto kernel = n <= 32 * 8    ? select_by_warp_kernel<8>
                        : n <= 32 * 16 ? select_by_warp_kernel<16>
                                       : select_by_warp_kernel<kWarpRowChunks>;
    kernel<<<unsigned((rows + kSelectWarps - 1) / kSelectWarps), 32 * kSelectWarps, 0, stream>>>(
        scores, rows, int(n), ld, int(topk), selected, static_cast<__nv_bfloat16*>(bf16_probs));
  } else {  // the row's keys in shared memory
    const size_t smem = size_t(n) * sizeof(uint32_t);
    select_and_softmax_kernel<<<unsigned(rows), kThreads, smem, stream>>>(
        scores, n, ld, topk, selected, static_cast<__nv_bfloat16*>(bf16_probs));
  }
  FV_CUDA_CHECK_LAUNCH();
}

void vsa_untile_combine(const void* fine, const float* coarse, const void* gate,
                        const int32_t* slot_of_token, int64_t batch, int64_t tokens, int64_t heads,
                        int64_t head_dim, int64_t num_tiles, void* out, cudaStream_t stream) {
  FV_CHECK(gate == nullptr || coarse != nullptr, "VSA untiling: a gate needs the coarse output");
  check_chunk_aligned("VSA untiling", 16, {fine, gate, out});
  const int64_t row_chunks = heads * head_dim / 8, total = batch * tokens * row_chunks;
  untile_combine_kernel<<<unsigned((total + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      static_cast<const Bf16x8*>(fine), reinterpret_cast<const float4*>(coarse),
      static_cast<const Bf16x8*>(gate), slot_of_token, tokens, row_chunks, num_tiles, total,
      static_cast<Bf16x8*>(out));
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
