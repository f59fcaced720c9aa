// Channels-last BF16 3-D convolution on Hopper (sm_90a) as an implicit GEMM, for every Wan VAE
// decoder convolution: faster than cuDNN on all but conv_out, and no plan to build on a first
// decode (docs/perf.md).
//
// GEMM view: rows = output pixels, columns = output channels, K = taps x input channels. A work
// tile is 128 output pixels of one output frame, a bw x bh block of it (bw · bh = 128, bw the
// largest power of two up to 128 that divides W, so rows of tiles end at the frame's edge), times
// kBN output channels (96, 192, or 16 where O <= 16, the columns past O not stored). Its K loop
// runs over the kernel's taps (dt, dh, dw) and the input channels 64 at a time: step (tap, c)
// multiplies the input box shifted by the tap, 128 pixels x 64 channels, with the weights' [kBN,
// 64] slice of that tap; where C % 64 is 32 or 16 (the VAE's 96 channels, its conv_in's 16) a tap's
// last step takes those channels in 64- or 32-byte rows instead of 64 partly zero. TMA loads both
// (128-, 64- or 32-byte swizzle, the layouts the wgmma descriptors read); its out-of-bounds zero
// fill is the "same" padding in H and W and the channels past C, so no step needs a mask. Time has
// no padding here (the causal convs put their cached frames in front): output frame t reads input
// frames t .. t + kt − 1.
//
// Warp roles (384 threads): warpgroup 0 is the producer (one thread issues every TMA load into a
// kStages-deep ring of (A, B) stages); warpgroups 1 and 2 each own 64 of the tile's 128 rows and
// run wgmma m64nKBNk16 with both operands from shared memory, keeping one k-step's group in flight
// and releasing its stage when the next one's is issued. Epilogue: bias (optional) and bf16 pairs
// stored straight from the accumulators. Persistent: one CTA per SM walks the tiles, output
// channels fastest, so the CTAs running together read the same input pixels from L2.
//
// Tested by tests/cuda_ops (conv3d_ndhwc rows) against the CPU convolution.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <bit>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/conv_kernels.h"
#include "ops/cuda/hopper_attention.cuh"
#include "ops/cuda/hopper_ptx.cuh"
#include "ops/cuda/ptx_common.cuh"
#include "ops/cuda/tensor_map.h"

namespace fastvideo::ops::cuda::conv_detail {

namespace {

using namespace hopper;

constexpr int kBlockM = 128;  // output pixels per tile (2 consumer warpgroups x 64)
constexpr int kChunk = 64;    // input channels per k-step: one 128-byte swizzled row
constexpr int kThreads = 384;
constexpr int kConsumerWarps = 8;
constexpr uint32_t kATileBytes = kBlockM * kChunk * 2;  // 16 KiB

template <int kBN>
struct Tile {
  static constexpr int kStages = kBN == 16 ? 10 : kBN == 96 ? 7 : 5;
  static constexpr uint32_t kBTileBytes = kBN * kChunk * 2;  // 2, 12 or 24 KiB
  static constexpr uint32_t kStageBytes = kATileBytes + kBTileBytes;
  static constexpr size_t kSmemBytes = 1024 /* alignment slack */ + kStages * kStageBytes + 256;
  static_assert(kBTileBytes % 1024 == 0 && kSmemBytes <= 227 * 1024);
};

struct ConvParams {
  __nv_bfloat16* y;   // [frames_out, H, W, O]
  const float* bias;  // [O] or null
  int t_out, t_in;    // frames per batch item, out and in (t_in = t_out + kt − 1)
  int H, W, O;
  int kt, kh, kw, ph, pw;
  int chunks;  // k-steps per tap: 64 channels each, the last `tail` where that is not 0
  int tail;    // C % 64 where that is 32 or 16 (the VAE's 96 channels, conv_in's 16), else 0
  int bw, bh, tiles_w, tiles_h, n_tiles, num_tiles;
};

struct WorkTile {
  int n0, w0, h0, frame_out, frame_in;  // frame_in: input frame of tap dt = 0
};

__device__ __forceinline__ WorkTile decode_tile(const ConvParams& p, int t, int bn) {
  WorkTile w;
  w.n0 = (t % p.n_tiles) * bn;
  t /= p.n_tiles;
  w.w0 = (t % p.tiles_w) * p.bw;
  t /= p.tiles_w;
  w.h0 = (t % p.tiles_h) * p.bh;
  w.frame_out = t / p.tiles_h;
  w.frame_in = w.frame_out / p.t_out * p.t_in + w.frame_out % p.t_out;
  return w;
}

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

template <int kBN>
struct SmemMap {
  uint32_t base;  // 1024-byte aligned
  __device__ uint32_t a(int s) const { return base + s * Tile<kBN>::kStageBytes; }
  __device__ uint32_t b(int s) const { return a(s) + kATileBytes; }
  __device__ uint32_t bar(int i) const {
    return base + Tile<kBN>::kStages * Tile<kBN>::kStageBytes + 8 * i;
  }
  __device__ uint32_t full(int s) const { return bar(s); }
  __device__ uint32_t empty(int s) const { return bar(Tile<kBN>::kStages + s); }
};

template <int kBN>
__device__ void producer(const CUtensorMap* tm_x, const CUtensorMap* tm_w, const CUtensorMap* tm_xn,
                         const CUtensorMap* tm_wn, const ConvParams& p, const SmemMap<kBN>& sm) {
  constexpr int kStages = Tile<kBN>::kStages;
  prefetch_tensor_map(tm_x);
  prefetch_tensor_map(tm_w);
  if (p.tail != 0) {
    prefetch_tensor_map(tm_xn);
    prefetch_tensor_map(tm_wn);
  }
  uint32_t it = 0;
  for (int t = blockIdx.x; t < p.num_tiles; t += gridDim.x) {
    const WorkTile w = decode_tile(p, t, kBN);
    int tap = 0;
    for (int dt = 0; dt < p.kt; ++dt)
      for (int dh = 0; dh < p.kh; ++dh)
        for (int dw = 0; dw < p.kw; ++dw, ++tap)
          for (int c = 0; c < p.chunks; ++c, ++it) {
            const int s = int(it % kStages);
            mbarrier_wait(sm.empty(s), ((it / kStages) & 1) ^ 1);
            const bool narrow = p.tail != 0 && c == p.chunks - 1;  // tail channels, shorter rows
            mbarrier_arrive_expect_tx(sm.full(s), narrow ? Tile<kBN>::kStageBytes / kChunk * p.tail
                                                         : Tile<kBN>::kStageBytes);
            tma_load_4d(sm.a(s), narrow ? tm_xn : tm_x, sm.full(s), c * kChunk, w.w0 + dw - p.pw,
                        w.h0 + dh - p.ph, w.frame_in + dt);
            tma_load_3d(sm.b(s), narrow ? tm_wn : tm_w, sm.full(s), c * kChunk, tap, w.n0);
          }
  }
}

// A K-major operand's descriptor for rows of kRowBytes (128, 64 or 32: 64, 32 or 16 channels) in
// the matching TMA swizzle, 8-row atoms.
template <uint32_t kRowBytes>
__device__ __forceinline__ uint64_t operand_desc(uint32_t addr) {
  return smem_desc(addr, 16, 8 * kRowBytes, kRowBytes == 128 ? 1 : kRowBytes == 64 ? 2 : 3);
}

// acc[64 rows of this warpgroup x kBN] (+)= A rows · B over one k-step: its channels as k16 steps
// 32 bytes apart inside rows of kRowBytes (64 channels: four; a 32- or 16-channel tail: two, one).
// a is the stage's A tile, rows 64·half on.
template <int kBN, uint32_t kRowBytes>
__device__ __forceinline__ void issue_step(float (&acc)[kBN / 2], uint32_t a, int half, uint32_t b,
                                           bool first) {
  const uint32_t a_rows = a + half * 64 * kRowBytes;
#pragma unroll
  for (int kk = 0; kk < int(kRowBytes) / 32; ++kk) {
    const uint64_t da = operand_desc<kRowBytes>(a_rows + kk * 32);
    const uint64_t db = operand_desc<kRowBytes>(b + kk * 32);
    const int accumulate = first && kk == 0 ? 0 : 1;
    if constexpr (kBN == 16)
      wgmma_m64n16k16_ss(acc, da, db, accumulate);
    else if constexpr (kBN == 96)
      wgmma_m64n96k16_ss(acc, da, db, accumulate);
    else
      wgmma_m64n192k16_ss(acc, da, db, accumulate);
  }
}

template <int kBN>
__device__ void consumer(const ConvParams& p, const SmemMap<kBN>& sm, int consumer_thread) {
  constexpr int kStages = Tile<kBN>::kStages;
  const int half = consumer_thread / 128;
  const int warp = (consumer_thread % 128) / 32, lane = consumer_thread % 32;
  const int k_steps = p.kt * p.kh * p.kw * p.chunks;
  uint32_t it = 0;
  for (int t = blockIdx.x; t < p.num_tiles; t += gridDim.x) {
    const WorkTile w = decode_tile(p, t, kBN);
    float acc[kBN / 2];
    int previous = -1;
    for (int k = 0; k < k_steps; ++k, ++it) {
      const int s = int(it % kStages);
      mbarrier_wait(sm.full(s), (it / kStages) & 1);
      fence_operands(acc);
      wgmma_fence();
      const bool narrow = p.tail != 0 && k % p.chunks == p.chunks - 1;
      if (narrow && p.tail == 32)
        issue_step<kBN, 64>(acc, sm.a(s), half, sm.b(s), k == 0);
      else if (narrow)
        issue_step<kBN, 32>(acc, sm.a(s), half, sm.b(s), k == 0);
      else
        issue_step<kBN, 128>(acc, sm.a(s), half, sm.b(s), k == 0);
      wgmma_commit();
      wgmma_wait<1>();  // the previous step's group is done: its stage can be refilled
      fence_operands(acc);
      if (previous >= 0) release(sm.empty(previous), lane);
      previous = s;
    }
    wgmma_wait<0>();
    fence_operands(acc);
    release(sm.empty(previous), lane);
    // Epilogue: this thread's rows m and m + 8 of the tile, columns 8i + 2·(lane % 4) (+1): bf16
    // pairs, or (a last n-tile past O, as conv_out's 3 channels in 16) single checked columns.
    const bool whole = p.O % kBN == 0;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int m = half * 64 + warp * 16 + lane / 4 + 8 * r;
      const int h = w.h0 + m / p.bw, x = w.w0 + m % p.bw;
      if (h >= p.H || x >= p.W) continue;
      __nv_bfloat16* out = p.y + ((int64_t(w.frame_out) * p.H + h) * p.W + x) * p.O;
#pragma unroll
      for (int i = 0; i < kBN / 8; ++i) {
        const int col = w.n0 + 8 * i + 2 * (lane % 4);
        float v[2] = {acc[4 * i + 2 * r], acc[4 * i + 2 * r + 1]};
        if (whole) {
          if (p.bias != nullptr) {
            v[0] += p.bias[col];
            v[1] += p.bias[col + 1];
          }
          *reinterpret_cast<uint32_t*>(out + col) = pack_bf16x2(v[0], v[1]);
          continue;
        }
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          if (col + j >= p.O) continue;
          out[col + j] = __float2bfloat16(v[j] + (p.bias != nullptr ? p.bias[col + j] : 0.f));
        }
      }
    }
  }
}

#endif  // sm_90a or host pass

template <int kBN>
__global__ void __launch_bounds__(kThreads, 1)
    conv_hopper_kernel(const __grid_constant__ CUtensorMap tm_x,
                       const __grid_constant__ CUtensorMap tm_w,
                       const __grid_constant__ CUtensorMap tm_xn,
                       const __grid_constant__ CUtensorMap tm_wn, const ConvParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t smem_raw[];
  const SmemMap<kBN> sm{(smem_u32(smem_raw) + 1023u) & ~1023u};
  if (threadIdx.x == 0) {
    for (int s = 0; s < Tile<kBN>::kStages; ++s) {
      mbarrier_init(sm.full(s), 1);
      mbarrier_init(sm.empty(s), kConsumerWarps);
    }
    fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x < 128) {
    setmaxnreg_dec<24>();
    if (threadIdx.x == 0) producer<kBN>(&tm_x, &tm_w, &tm_xn, &tm_wn, p, sm);
  } else {
    setmaxnreg_inc<240>();
    consumer<kBN>(p, sm, threadIdx.x - 128);
  }
#elif defined(__CUDA_ARCH__)
  __trap();  // a build without sm_90a code: hopper_conv_applies should not have sent work here
#endif
}

// A TMA map over a contiguous BF16 tensor, dims innermost first, boxes swizzled in rows of their
// inner dim (64 channels: 128 bytes; 32: 64 bytes; 16: 32 bytes).
template <int kRank>
CUtensorMap tensor_map(const Tensor& t, const cuuint64_t (&dims)[kRank],
                       const cuuint32_t (&box)[kRank]) {
  const CUtensorMapSwizzle swizzle = box[0] == 16   ? CU_TENSOR_MAP_SWIZZLE_32B
                                     : box[0] == 32 ? CU_TENSOR_MAP_SWIZZLE_64B
                                                    : CU_TENSOR_MAP_SWIZZLE_128B;
  cuuint64_t strides[kRank - 1];
  cuuint64_t bytes = 2;
  for (int d = 0; d + 1 < kRank; ++d) strides[d] = bytes *= dims[d];
  return encode_tensor_map("conv3d_ndhwc", t, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, kRank, dims,
                           strides, box, swizzle);
}

template <int kBN>
void launch(const Tensor& x, const Tensor& w, const ConvParams& p, int sm_count,
            cudaStream_t stream) {
  const cuuint64_t C = cuuint64_t(x.size(4));
  const cuuint64_t x_dims[4] = {C, cuuint64_t(p.W), cuuint64_t(p.H),
                                cuuint64_t(x.size(0) * x.size(1))};
  const cuuint64_t w_dims[3] = {C, cuuint64_t(p.kt * p.kh * p.kw), cuuint64_t(p.O)};
  auto x_map = [&](cuuint32_t channels) {
    return tensor_map<4>(x, x_dims, {channels, cuuint32_t(p.bw), cuuint32_t(p.bh), 1});
  };
  auto w_map = [&](cuuint32_t channels) { return tensor_map<3>(w, w_dims, {channels, 1, kBN}); };
  // With 16 or 32 channels every step is the narrow one; the 64-wide maps (unused then) are not
  // made wider than the rows.
  const cuuint32_t wide = cuuint32_t(std::min<cuuint64_t>(kChunk, C));
  const CUtensorMap tm_x = x_map(wide), tm_w = w_map(wide);
  const cuuint32_t tail = cuuint32_t(p.tail);
  const CUtensorMap tm_xn = tail ? x_map(tail) : tm_x, tm_wn = tail ? w_map(tail) : tm_w;
  const int grid = std::min(p.num_tiles, sm_count);
  conv_hopper_kernel<kBN>
      <<<grid, kThreads, Tile<kBN>::kSmemBytes, stream>>>(tm_x, tm_w, tm_xn, tm_wn, p);
  FV_CUDA_CHECK_LAUNCH();
}

// Whether the kernel image loaded for this GPU holds the sm_90a body: one JIT-compiled from an
// sm_80 build's PTX has an empty body (and reports that PTX's version, 80).
bool built_for_hopper() {
  static const bool built = [] {
    cudaFuncAttributes attributes{};
    return cudaFuncGetAttributes(&attributes, conv_hopper_kernel<96>) == cudaSuccess &&
           attributes.binaryVersion >= 90 && attributes.ptxVersion >= 90;
  }();
  return built;
}

}  // namespace

bool hopper_conv_applies(const Tensor& x, const Tensor& w, const std::vector<int64_t>& pad) {
  if (x.dtype() != DType::BF16 || w.dtype() != DType::BF16 || x.ndim() != 5 || w.ndim() != 5 ||
      pad.size() != 3 || x.device().is_cpu())
    return false;
  const CudaDeviceInfo& info = CudaContext::get(x.device().index).info();
  if (info.major != 9 || info.minor != 0 || !built_for_hopper()) return false;
  const int64_t C = x.size(4), O = w.size(0), kh = w.size(2), kw = w.size(3);
  // Whole 16-byte rows for TMA, channel boxes no wider than the rows (64, or a 32- or 16-channel
  // tail), output channels in 96- or 192-wide n-tiles or one 16-wide one, and "same" padding in H
  // and W with none in time.
  const bool channels = C % 8 == 0 && (C >= 64 || C == 32 || C == 16);
  const bool outputs = O % 96 == 0 || O <= 16;
  return channels && outputs && kh % 2 == 1 && kw % 2 == 1 && pad[0] == 0 && pad[1] == kh / 2 &&
         pad[2] == kw / 2 && x.numel() < (int64_t(1) << 31) && x.size(2) < (int64_t(1) << 20) &&
         x.size(3) < (int64_t(1) << 20);
}

void hopper_conv3d_ndhwc(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) {
  FV_CHECK(x.is_contiguous() && w.is_contiguous() && y.is_contiguous() &&
               y.dtype() == DType::BF16 && y.ndim() == 5 && y.size(4) == w.size(0),
           "hopper_conv3d_ndhwc: expected contiguous BF16 x, w and y [B, T', H, W, O], got ",
           x.describe(), ", ", w.describe(), ", ", y.describe());
  ConvParams p{};
  p.y = y.data<__nv_bfloat16>();
  const Tensor b = bias.defined() ? bias.to(DType::F32).contiguous() : Tensor();
  p.bias = b.defined() ? b.data<float>() : nullptr;
  p.kt = int(w.size(1));
  p.kh = int(w.size(2));
  p.kw = int(w.size(3));
  p.ph = p.kh / 2;
  p.pw = p.kw / 2;
  p.t_in = int(x.size(1));
  p.t_out = p.t_in - p.kt + 1;
  p.H = int(x.size(2));
  p.W = int(x.size(3));
  p.O = int(w.size(0));
  p.chunks = int((x.size(4) + kChunk - 1) / kChunk);
  const int64_t rest = x.size(4) % kChunk;
  p.tail = rest == 32 || rest == 16 ? int(rest) : 0;
  p.bw = kBlockM;
  while (p.bw > 8 && p.W % p.bw != 0) p.bw /= 2;
  if (p.W % p.bw != 0) p.bw = std::max(8, std::min(kBlockM, int(std::bit_ceil(unsigned(p.W)))));
  p.bh = kBlockM / p.bw;
  p.tiles_w = (p.W + p.bw - 1) / p.bw;
  p.tiles_h = (p.H + p.bh - 1) / p.bh;
  const int bn = p.O % 192 == 0 ? 192 : p.O % 96 == 0 ? 96 : 16;
  p.n_tiles = (p.O + bn - 1) / bn;
  const int64_t tiles = int64_t(y.size(0)) * p.t_out * p.tiles_h * p.tiles_w * p.n_tiles;
  FV_CHECK(tiles < (int64_t(1) << 31), "hopper_conv3d_ndhwc: ", tiles, " tiles for ", y.describe());
  p.num_tiles = int(tiles);
  if (p.num_tiles == 0) return;
  const int device = x.device().index;
  CudaContext& ctx = CudaContext::get(device);
  static PerDeviceOnce prepared;
  prepared(device, [] {
    FV_CUDA_CHECK(cudaFuncSetAttribute(conv_hopper_kernel<96>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       int(Tile<96>::kSmemBytes)));
    FV_CUDA_CHECK(cudaFuncSetAttribute(conv_hopper_kernel<192>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       int(Tile<192>::kSmemBytes)));
    FV_CUDA_CHECK(cudaFuncSetAttribute(conv_hopper_kernel<16>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       int(Tile<16>::kSmemBytes)));
  });
  if (bn == 16)
    launch<16>(x, w, p, ctx.info().sm_count, ctx.stream());
  else if (bn == 96)
    launch<96>(x, w, p, ctx.info().sm_count, ctx.stream());
  else
    launch<192>(x, w, p, ctx.info().sm_count, ctx.stream());
}

}  // namespace fastvideo::ops::cuda::conv_detail
