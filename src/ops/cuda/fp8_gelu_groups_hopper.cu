// The FP8 FFN's up projection on Hopper (sm_90a) straight into its down projection's input:
// y = bf16(gelu(Σ_k x[t, k]·w[o, k] · sx[t] · sw[o] + b[o])), then y quantized in 128-wide groups
// of each row as quantize_groups_fp8 does (s = max |y| / 448, 1 for an all-zero group), written as
// E4M3 codes and group-major scales. The unfused path wrote y as bf16 and read it back to quantize
// it: 3 bytes of traffic a value that this kernel does not move (880 MB a 1.3B block at 480p).
// Where it differs from that path: GELU's exponent and reciprocal on the MUFU; codes from
// y · (1 / s) rather than IEEE y / s (one E4M3 step apart where the two round differently); and
// the K sum kept in the FP8 MMA's accumulator throughout, which holds fewer bits than f32
// (cuBLASLt adds partial sums into f32 along K). Measured together (docs/perf.md, session 61):
// the values within rel-L2 0.015 of the two-step path's and of the CPU's f32 sums up to K 5120,
// the DiT's block cosines unchanged; which of the three moves the codes that differ is not yet
// separated (the test prints both paths against the CPU).
//
// GEMM: a tile is 128 token rows x 256 output columns, its K loop 128 E4M3 (bytes) at a time; TMA
// loads both K-major operands in 128-byte swizzle (out-of-bounds rows zero-filled) into a
// kStages-deep ring. Warp roles (384 threads): warpgroup 0 the producer (one thread issues the
// loads), warpgroups 1 and 2 each 64 of the tile's rows with wgmma m64n256k32 e4m3 from shared
// memory, one k-step's group kept in flight. Persistent: one CTA an SM walks the tiles in groups
// of kGroupM row blocks, each group's tiles with its row blocks fastest, so the CTAs running
// together share both operands in L2 and the weight is read from memory once a group (14B's
// 71 MB weight does not fit the 50 MB L2 by itself).
//
// Epilogue, per consumer thread (rows m and m + 8 of its warpgroup, columns 8i + 2·(lane % 4) and
// + 1): each 128-wide group's 32 values of a row, their maximum over the quad's 4 lanes (which
// hold the row's whole group), the scale, and the codes, two bytes a column pair.
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <algorithm>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/per_device_once.h"
#include "ops/cuda/fp8_gelu_groups_hopper.h"
#include "ops/cuda/hopper_attention.cuh"
#include "ops/cuda/hopper_ptx.cuh"
#include "ops/cuda/ptx_common.cuh"
#include "ops/cuda/tensor_map.h"

namespace fastvideo::ops::cuda {

namespace {

using namespace hopper;

constexpr int kBlockM = 128;  // token rows a tile (2 consumer warpgroups x 64)
constexpr int kBlockN = 256;  // output columns a tile: two 128-wide groups
constexpr int kBlockK = 128;  // E4M3 values a k-step: one 128-byte swizzled row
constexpr int kStages = 4;
constexpr int kGroupM = 16;  // row blocks a tile group
constexpr int kThreads = 384;
constexpr uint32_t kATileBytes = kBlockM * kBlockK;  // 16 KiB
constexpr uint32_t kBTileBytes = kBlockN * kBlockK;  // 32 KiB
constexpr uint32_t kStageBytes = kATileBytes + kBTileBytes;
// Each consumer warpgroup's copy of the tile's column factors: per column pair (w scales of both,
// bias of both) as one float4, so the epilogue reads them from shared memory rather than keeping
// 64 global loads in flight beside the accumulators (ptxas then spilled).
constexpr uint32_t kColumnTableBytes = kBlockN / 2 * 16;
constexpr size_t kSmemBytes =
    1024 /* alignment slack */ + kStages * kStageBytes + 2 * kColumnTableBytes + 2 * kStages * 8;
static_assert(kSmemBytes <= 227 * 1024, "the ring, the tables and the barriers must fit");

struct Params {
  const float* x_scales;      // [rows]
  const float* w_scales;      // [out]
  const __nv_bfloat16* bias;  // [out] or null
  uint8_t* codes;             // [padded, out]
  float* scales;              // [out / 128, padded]
  int rows, padded, out, k_steps, m_tiles, n_tiles, num_tiles;
};

// Tile t's first row and column: groups of kGroupM row blocks (the last may be shorter), row
// blocks fastest within a group.
struct TileOrigin {
  int m0, n0;
};
__device__ __forceinline__ TileOrigin tile_origin(const Params& p, int t) {
  const int group_tiles = kGroupM * p.n_tiles, first = t / group_tiles * kGroupM;
  const int rows_here = min(kGroupM, p.m_tiles - first), local = t % group_tiles;
  return {(first + local % rows_here) * kBlockM, local / rows_here * kBlockN};
}

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)

struct SmemMap {
  uint32_t base;  // 1024-byte aligned
  __device__ uint32_t a(int s) const { return base + s * kStageBytes; }
  __device__ uint32_t b(int s) const { return a(s) + kATileBytes; }
  __device__ uint32_t columns(int half) const {
    return base + kStages * kStageBytes + half * kColumnTableBytes;
  }
  __device__ uint32_t full(int s) const { return columns(2) + 8 * s; }
  __device__ uint32_t empty(int s) const { return columns(2) + 8 * (kStages + s); }
};

__device__ void producer(const CUtensorMap* tm_x, const CUtensorMap* tm_w, const Params& p,
                         const SmemMap& sm) {
  prefetch_tensor_map(tm_x);
  prefetch_tensor_map(tm_w);
  uint32_t it = 0;
  for (int t = blockIdx.x; t < p.num_tiles; t += gridDim.x) {
    const auto [m0, n0] = tile_origin(p, t);
    for (int k = 0; k < p.k_steps; ++k, ++it) {
      const int s = int(it % kStages);
      mbarrier_wait(sm.empty(s), ((it / kStages) & 1) ^ 1);
      mbarrier_arrive_expect_tx(sm.full(s), kStageBytes);
      tma_load_2d(sm.a(s), tm_x, sm.full(s), k * kBlockK, m0);
      tma_load_2d(sm.b(s), tm_w, sm.full(s), k * kBlockK, n0);
    }
  }
}

// A 128-byte swizzled K-major operand's descriptor (8-row atoms of 128 bytes).
__device__ __forceinline__ uint64_t operand_desc(uint32_t addr) {
  return smem_desc_sw128(addr, 16, 1024);
}

// 1 / x on the MUFU (about an ulp; ftz): no slow-path call, which __frcp_rn and IEEE division
// make, saving registers around it.
__device__ __forceinline__ float rcp_approx(float x) {
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(x));
  return r;
}

// 0.5·v·(1 + tanh(u)), u = √(2/π)·(v + 0.044715·v³), as v · sigmoid(2u) = v / (1 + 2^(−2u·log2 e))
// on the MUFU: no cancellation where tanh(u) nears −1 (tanh.approx's 2^-11 there is most of the
// result), and 0 · v = −0 once the exponent overflows.
__device__ __forceinline__ float gelu_tanh(float v) {
  constexpr float k = -2.f * 0.7978845608f * 1.4426950408889634f;  // −2·√(2/π)·log2 e
  const float e = exp2_approx(v * fmaf(k * 0.044715f, v * v, k));
  return v * rcp_approx(1.f + e);
}

// The tile's epilogue for this thread's row r (0 or 1) of its quad: y for the 64 columns it holds
// (factors from the warpgroup's column table), each group's scale, the codes straight to memory.
__device__ __forceinline__ void quantize_row(const float (&acc)[128], int r, int row, int n0,
                                             int lane, const Params& p, const float4* columns) {
  const bool live = row < p.rows;
  const float sx = live ? __ldg(p.x_scales + row) : 0.f;
#pragma unroll
  for (int g = 0; g < 2; ++g) {
    // The group's 32 values as bf16 pairs: 16 registers beside the 128 accumulators.
    __nv_bfloat162 y[16];
    float amax = 0.f;
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const float4 c = columns[64 * g + 4 * i + lane % 4];  // w scales, then biases, of the pair
      const float* a = acc + 4 * (16 * g + i) + 2 * r;
      // Rounded to bf16 as the unfused path's GEMM wrote it; zero past the rows.
      y[i] = live ? __floats2bfloat162_rn(gelu_tanh(fmaf(a[0] * sx, c.x, c.z)),
                                          gelu_tanh(fmaf(a[1] * sx, c.y, c.w)))
                  : __floats2bfloat162_rn(0.f, 0.f);
      const float2 f = __bfloat1622float2(y[i]);
      amax = fmaxf(amax, fmaxf(fabsf(f.x), fabsf(f.y)));
    }
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
    if (row >= p.padded) continue;
    // s = amax / 448 rounded as IEEE division (one Newton step on the product with 1/448; an
    // infinite amax gives s = inf, whose finite values code 0 as the division's do), and the codes
    // from y · (1 / s), no division: see the top of the file.
    constexpr float kInv448 = 1.f / 448.f;
    float s = amax * kInv448;
    if (amax > 0.f && amax < INFINITY) s = fmaf(fmaf(-s, 448.f, amax), kInv448, s);
    if (amax == 0.f) s = 1.f;
    if (lane % 4 == 0) p.scales[int64_t(n0 / 128 + g) * p.padded + row] = s;
    // 1 / s by one Newton step on the MUFU's. The MUFU flushes a subnormal s (amax under 5e-36),
    // so there y and s are both taken 2^64 larger first.
    const bool tiny = s < 0x1p-126f;
    const float sb = tiny ? s * 0x1p64f : s;
    float inv = rcp_approx(sb);
    inv = s < INFINITY ? fmaf(fmaf(-sb, inv, 1.f), inv, inv) : 0.f;
    // Two bytes a column pair: a warp's store covers 8 rows x 8 bytes; the group's other pairs
    // fill the same 32-byte sectors in L2 before they go out.
    uint8_t* out = p.codes + int64_t(row) * p.out + n0 + 128 * g + 2 * (lane % 4);
    if (tiny) {
#pragma unroll
      for (int i = 0; i < 16; ++i) {
        const float2 f = __bfloat1622float2(y[i]);
        const uint32_t pair = pack_e4m3x2(f.x * 0x1p64f * inv, f.y * 0x1p64f * inv);
        *reinterpret_cast<uint16_t*>(out + 8 * i) = uint16_t(pair);
      }
      continue;
    }
#pragma unroll
    for (int i = 0; i < 16; ++i) {
      const float2 f = __bfloat1622float2(y[i]);
      *reinterpret_cast<uint16_t*>(out + 8 * i) = uint16_t(pack_e4m3x2(f.x * inv, f.y * inv));
    }
  }
}

__device__ void consumer(const Params& p, const SmemMap& sm, uint8_t* smem_generic,
                         int consumer_thread) {
  const int half = consumer_thread / 128, wg_thread = consumer_thread % 128;
  const int warp = wg_thread / 32, lane = consumer_thread % 32;
  auto* columns = reinterpret_cast<float4*>(smem_generic + (sm.columns(half) - sm.base));
  uint32_t it = 0;
  for (int t = blockIdx.x; t < p.num_tiles; t += gridDim.x) {
    const auto [m0, n0] = tile_origin(p, t);
    float acc[128];
    int previous = -1;
    for (int k = 0; k < p.k_steps; ++k, ++it) {
      const int s = int(it % kStages);
      mbarrier_wait(sm.full(s), (it / kStages) & 1);
      fence_operands(acc);
      wgmma_fence();
      const uint32_t a_rows = sm.a(s) + half * 64 * kBlockK;
#pragma unroll
      for (int kk = 0; kk < kBlockK / 32; ++kk)
        wgmma_m64n256k32_e4m3_ss(acc, operand_desc(a_rows + kk * 32),
                                 operand_desc(sm.b(s) + kk * 32), k == 0 && kk == 0 ? 0 : 1);
      wgmma_commit();
      wgmma_wait<1>();  // the previous step's group is done: its stage can be refilled
      fence_operands(acc);
      if (previous >= 0) release(sm.empty(previous), lane);
      previous = s;
    }
    wgmma_wait<0>();
    fence_operands(acc);
    release(sm.empty(previous), lane);
    // The column table: once every thread of the warpgroup is done with the last tile's, each
    // writes one column pair's entry.
    named_barrier_sync(1 + half, 128);
    {
      const int col = n0 + 2 * wg_thread;
      const float2 sw = *reinterpret_cast<const float2*>(p.w_scales + col);
      float2 b = make_float2(0.f, 0.f);
      if (p.bias != nullptr)
        b = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p.bias + col));
      columns[wg_thread] = make_float4(sw.x, sw.y, b.x, b.y);
    }
    named_barrier_sync(1 + half, 128);
#pragma unroll
    for (int r = 0; r < 2; ++r)
      quantize_row(acc, r, m0 + half * 64 + warp * 16 + lane / 4 + 8 * r, n0, lane, p, columns);
  }
}

#endif  // sm_90a or host pass

__global__ void __launch_bounds__(kThreads, 1)
    fp8_gelu_groups_kernel(const __grid_constant__ CUtensorMap tm_x,
                           const __grid_constant__ CUtensorMap tm_w, const Params p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ uint8_t smem_raw[];
  const SmemMap sm{(smem_u32(smem_raw) + 1023u) & ~1023u};
  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      mbarrier_init(sm.full(s), 1);
      mbarrier_init(sm.empty(s), 8);  // one arrival per consumer warp (release)
    }
    fence_barrier_init();
  }
  __syncthreads();
  if (threadIdx.x < 128) {
    setmaxnreg_dec<24>();
    if (threadIdx.x == 0) producer(&tm_x, &tm_w, p, sm);
  } else {
    setmaxnreg_inc<240>();
    consumer(p, sm, smem_raw + (sm.base - smem_u32(smem_raw)), threadIdx.x - 128);
  }
#elif defined(__CUDA_ARCH__)
  __trap();  // a build without sm_90a code: hopper_fp8_gelu_groups_applies sends no work here
#endif
}

// A TMA map over E4M3 rows [rows, in]: boxes of `box_rows` rows x 128 bytes, 128-byte swizzle.
CUtensorMap rows_map(const Tensor& t, int64_t rows, int64_t in, uint32_t box_rows) {
  const cuuint64_t dims[2] = {cuuint64_t(in), cuuint64_t(rows)};
  const cuuint64_t strides[1] = {cuuint64_t(in)};
  const cuuint32_t box[2] = {cuuint32_t(kBlockK), box_rows};
  return encode_tensor_map("fp8_linear_gelu_groups", t, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, dims,
                           strides, box, CU_TENSOR_MAP_SWIZZLE_128B);
}

// Whether the kernel image loaded for this GPU holds the sm_90a body (an sm_80 build's PTX
// JIT-compiled here has an empty one and reports version 80).
bool built_for_hopper() {
  static const bool built = [] {
    cudaFuncAttributes attributes{};
    return cudaFuncGetAttributes(&attributes, fp8_gelu_groups_kernel) == cudaSuccess &&
           attributes.binaryVersion >= 90 && attributes.ptxVersion >= 90;
  }();
  return built;
}

}  // namespace

bool hopper_fp8_gelu_groups_applies(const Device& device, int64_t in, int64_t out) {
  if (device.is_cpu() || in % kBlockK != 0 || out % kBlockN != 0 || in == 0 || out == 0)
    return false;
  const CudaDeviceInfo& info = CudaContext::get(device.index).info();
  return info.major == 9 && info.minor == 0 && built_for_hopper();
}

void hopper_fp8_gelu_groups(const Fp8Rows& x, const Fp8Rows& weight, const Tensor& bias,
                            const Fp8Groups& out) {
  const Tensor& w = weight.values;
  const int64_t in = w.size(1), n = w.size(0), rows = x.scales.numel();
  const int64_t padded = out.scales.size(1);
  // The kernel reads the column factors in pairs (8- and 4-byte loads) and every operand by its
  // raw pointer: contiguous tensors that start where a pair may.
  const auto aligned = [](const Tensor& t, uintptr_t bytes) {
    return t.is_contiguous() && reinterpret_cast<uintptr_t>(t.raw_data()) % bytes == 0;
  };
  FV_CHECK(aligned(x.values, 16) && aligned(w, 16) && aligned(x.scales, 4) &&
               aligned(weight.scales, 8) &&
               (!bias.defined() || (bias.dtype() == DType::BF16 && aligned(bias, 4))) &&
               x.values.numel() == rows * in,
           "hopper_fp8_gelu_groups: contiguous, aligned operands and a BF16 bias expected, got x ",
           x.values.describe(), " with scales ", x.scales.describe(), ", weight ", w.describe(),
           ", bias ", bias.defined() ? bias.describe() : std::string("none"));
  FV_CHECK(padded >= rows && padded % 16 == 0 && padded - rows < 16 &&
               padded < (int64_t(1) << 31) && out.values.dtype() == DType::F8E4M3 &&
               out.values.shape() == Shape({padded, n}) && out.scales.dtype() == DType::F32 &&
               out.scales.shape() == Shape({n / 128, padded}) && aligned(out.values, 2) &&
               aligned(out.scales, 4),
           "hopper_fp8_gelu_groups: output ", out.values.describe(), " with scales ",
           out.scales.describe(), " for ", rows, " rows of ", n, " (rows padded to 16)");
  Params p{};
  p.x_scales = x.scales.data<float>();
  p.w_scales = weight.scales.data<float>();
  p.bias = bias.defined() ? bias.data<__nv_bfloat16>() : nullptr;
  p.codes = static_cast<uint8_t*>(out.values.raw_data());
  p.scales = out.scales.data<float>();
  p.rows = int(rows);
  p.padded = int(padded);
  p.out = int(n);
  p.k_steps = int(in / kBlockK);
  p.m_tiles = int((padded + kBlockM - 1) / kBlockM);
  p.n_tiles = int(n / kBlockN);
  const int64_t tiles = int64_t(p.m_tiles) * p.n_tiles;
  FV_CHECK(tiles < (int64_t(1) << 31), "hopper_fp8_gelu_groups: ", tiles, " tiles");
  p.num_tiles = int(tiles);
  if (rows == 0) return;  // padded is 0 too: no tile
  const int device = x.values.device().index;
  CudaContext& ctx = use_cuda_device(device);
  static PerDeviceOnce prepared;
  prepared(device, [] {
    FV_CUDA_CHECK(cudaFuncSetAttribute(
        fp8_gelu_groups_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(kSmemBytes)));
  });
  const CUtensorMap tm_x = rows_map(x.values, rows, in, kBlockM);
  const CUtensorMap tm_w = rows_map(w, n, in, kBlockN);
  const int grid = std::min(p.num_tiles, ctx.info().sm_count);
  fp8_gelu_groups_kernel<<<grid, kThreads, kSmemBytes, ctx.stream()>>>(tm_x, tm_w, p);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda
