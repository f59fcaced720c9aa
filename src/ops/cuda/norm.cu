// CUDA twins of src/ops/cpu/norm.cpp and the fused layer_norm_modulate, all through row_norm():
// each row is read once into registers (16-byte loads), reduced in fp32 (mean, then the centred
// sum of squares, as the CPU's two passes), and written once after the epilogue.
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include <string>
#include <type_traits>

#include "ops/cuda/memory_bound.cuh"
#include "ops/cuda/row_norm.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/norm_fp8.h"
#include "ops/residual_norm.h"

namespace fastvideo::ops {

namespace cuda_kernels {

namespace {

// Row data each thread keeps in registers, in floats; bounds the row length at
// kMaxLanes·kRowFloats elements.
constexpr int kRowFloats = 32;
constexpr int kMaxLanes = 512;

template <class TP>
struct Epilogue {
  const TP* weight;  // [D] or null
  const TP* bias;    // [D] or null
  const TP* shift;   // rows (row / tokens)·shift_stride, or null
  const TP* scale;
  int64_t shift_stride, scale_stride;
  int64_t tokens;    // S of x [B, S, D]: rows per batch item, positions of the RoPE tables
  const float* cos;  // [tokens, head_dim / 2] or null
  const float* sin;
  int head_dim;
  uint8_t* fp8;       // FP8 rows instead of the result (norm_fp8.h): [rows, D] E4M3, or null
  float* fp8_scales;  // [rows]
};

// The residual sum normalised in place of x (RowNorm::residual), or all null.
template <class TX>
struct ResidualRows {
  const TX* y;        // [rows, D] or null
  const float* gate;  // rows (row / tokens)·gate_stride, or null (x + y)
  int64_t gate_stride;
  TX* sum;  // [rows, D]: x + y·gate in x's dtype
};

// Sum (or max) over the threads of one row: a warp (blockDim.x == 32, several rows per block) or
// the whole block (blockDim.y == 1), so the barriers below are reached by every thread or by none.
template <bool kMax = false>
__device__ __forceinline__ float row_reduce(float v, float* partial) {
  const auto op = [](float a, float b) { return kMax ? fmaxf(a, b) : a + b; };
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if (blockDim.x == 32) return v;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // the previous reduction's readers are done with `partial`
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  v = lane < int(blockDim.x >> 5) ? partial[lane] : 0.0f;  // 0: the identity of both (|x| max)
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float row_sum(float v, float* partial) { return row_reduce(v, partial); }

// The epilogue of vector k's N values at column c0 of row (b, s): (v − mean)·inv, then weight,
// bias, modulation and RoPE as `ep` has them.
template <int N, class TP>
__device__ __forceinline__ void row_epilogue(const float (&v)[N], float mean, float inv, int c0,
                                             int64_t b, int64_t s, const Epilogue<TP>& ep,
                                             float (&o)[N]) {
  float p[N], q[N];
#pragma unroll
  for (int j = 0; j < N; ++j) o[j] = (v[j] - mean) * inv;
  if (ep.weight) {
    load<N>(ep.weight + c0, p);
#pragma unroll
    for (int j = 0; j < N; ++j) o[j] *= p[j];
  }
  if (ep.bias) {
    load<N>(ep.bias + c0, p);
#pragma unroll
    for (int j = 0; j < N; ++j) o[j] += p[j];
  }
  if (ep.scale) {
    load<N>(ep.shift + b * ep.shift_stride + c0, p);
    load<N>(ep.scale + b * ep.scale_stride + c0, q);
#pragma unroll
    for (int j = 0; j < N; ++j) o[j] = o[j] * (1.0f + q[j]) + p[j];
  }
  if (ep.cos) {  // N is even here: pairs (2p, 2p+1) of one head stay in one thread
    const int half = ep.head_dim / 2;
#pragma unroll
    for (int j = 0; j + 1 < N; j += 2) {
      const int64_t t = s * half + ((c0 + j) % ep.head_dim) / 2;
      const float c = ep.cos[t], sn = ep.sin[t], x0 = o[j], x1 = o[j + 1];
      o[j] = x0 * c - x1 * sn;
      o[j + 1] = x0 * sn + x1 * c;
    }
  }
}

// N values / s to E4M3 (round to nearest even, saturating) at p, one access.
template <int N>
__device__ __forceinline__ void store_e4m3(uint8_t* p, const float (&v)[N], float s) {
  Chunk<uint8_t, N> chunk;
#pragma unroll
  for (int j = 0; j < N; ++j)
    chunk.e[j] = __nv_cvt_float_to_fp8(__fdiv_rn(v[j], s), __NV_SATFINITE, __NV_E4M3);
  *reinterpret_cast<Chunk<uint8_t, N>*>(p) = chunk;
}

// kFp8: the rows go to ep.fp8 as E4M3 (norm_fp8.h) instead of to y; a separate instantiation
// (bf16 rows at full vector width only), so the others keep their registers.
template <int N, bool kFp8, class TX, class TP>
__global__ void __launch_bounds__(kMaxLanes)
    row_norm_kernel(const TX* __restrict__ x, TX* __restrict__ y, int64_t rows, int D, float eps,
                    bool rms, Epilogue<TP> ep, ResidualRows<TX> res) {
  constexpr int V = kRowFloats / N;  // vectors per thread
  __shared__ float partial[32];
  const int vectors = D / N, lanes = blockDim.x;
  for (int64_t row = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; row < rows;
       row += int64_t(gridDim.x) * blockDim.y) {
    const TX* xr = x + row * D;
    const int64_t b = row / ep.tokens, s = row - b * ep.tokens;
    float v[V][N];
    float sum = 0;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int idx = threadIdx.x + k * lanes;
      if (idx < vectors) {
        load<N>(xr + int64_t(idx) * N, v[k]);
        if (res.y) {  // x + y·gate (one FFMA, as gated_residual) or x + y, stored as x's dtype
          float r[N];
          load<N>(res.y + row * D + int64_t(idx) * N, r);
          if (res.gate) {
            float g[N];
            load<N>(res.gate + b * res.gate_stride + int64_t(idx) * N, g);
            // fmaf by name: written as v += r·g, the compiler shared the add with the branch
            // below and rounded the product first (1-2 bf16 sums in 10^5 differed on an H100).
#pragma unroll
            for (int j = 0; j < N; ++j) v[k][j] = fmaf(r[j], g[j], v[k][j]);
          } else {
#pragma unroll
            for (int j = 0; j < N; ++j) v[k][j] = v[k][j] + r[j];
          }
#pragma unroll
          for (int j = 0; j < N; ++j) v[k][j] = to_f32(from_f32<TX>(v[k][j]));
          store<N>(res.sum + row * D + int64_t(idx) * N, v[k]);
        }
#pragma unroll
        for (int j = 0; j < N; ++j) sum += rms ? v[k][j] * v[k][j] : v[k][j];
      }
    }
    float mean = 0, inv;
    if (rms) {
      inv = rsqrtf(row_sum(sum, partial) / float(D) + eps);
    } else {
      mean = row_sum(sum, partial) / float(D);
      float centred = 0;
#pragma unroll
      for (int k = 0; k < V; ++k) {
        if (threadIdx.x + k * lanes < vectors) {
#pragma unroll
          for (int j = 0; j < N; ++j) centred += (v[k][j] - mean) * (v[k][j] - mean);
        }
      }
      inv = rsqrtf(row_sum(centred, partial) / float(D) + eps);
    }
    if constexpr (kFp8) {
      // FP8 rows: the results rounded to x's dtype, as the unfused pair stores them, then
      // quantized as quantize_rows_fp8 does (amax / 448, each value divided by it, satfinite).
      float amax = 0.f;
#pragma unroll
      for (int k = 0; k < V; ++k) {
        if (threadIdx.x + k * lanes >= vectors) continue;
        float o[N];
        row_epilogue<N>(v[k], mean, inv, (threadIdx.x + k * lanes) * N, b, s, ep, o);
#pragma unroll
        for (int j = 0; j < N; ++j) {
          v[k][j] = to_f32(from_f32<TX>(o[j]));
          amax = fmaxf(amax, fabsf(v[k][j]));  // NaN is passed over, as quantize_rows_fp8 does
        }
      }
      amax = row_reduce<true>(amax, partial);
      const float scale = amax > 0.f ? __fdiv_rn(amax, kE4m3Max) : 1.f;
      if (threadIdx.x == 0) ep.fp8_scales[row] = scale;
#pragma unroll
      for (int k = 0; k < V; ++k) {
        const int idx = threadIdx.x + k * lanes;
        if (idx < vectors) store_e4m3<N>(ep.fp8 + row * D + int64_t(idx) * N, v[k], scale);
      }
      continue;
    }
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int idx = threadIdx.x + k * lanes;
      if (idx >= vectors) continue;
      const int c0 = idx * N;
      float o[N];
      row_epilogue<N>(v[k], mean, inv, c0, b, s, ep, o);
      store<N>(y + row * D + c0, o);
    }
  }
}

template <int N, bool kFp8 = false, class TX, class TP>
void launch_row_norm(const CudaContext& ctx, const TX* x, TX* y, int64_t rows, int D,
                     const RowNorm& norm, const Epilogue<TP>& ep, const ResidualRows<TX>& res) {
  const int vectors = D / N;
  constexpr int V = kRowFloats / N;
  dim3 block, grid;
  if (vectors <= 32 * V) {  // a warp per row, four rows per block
    block = dim3(32, 4);
    grid = dim3(unsigned((rows + 3) / 4));
  } else {
    const int lanes = (vectors + V - 1) / V;
    FV_CHECK(lanes <= kMaxLanes, norm.op, ": rows of ", D, " elements exceed the CUDA kernel's ",
             kMaxLanes * kRowFloats, "-element limit");
    block = dim3(unsigned((lanes + 31) / 32 * 32));
    grid = dim3(unsigned(rows));
  }
  row_norm_kernel<N, kFp8>
      <<<grid, block, 0, ctx.stream()>>>(x, y, rows, D, norm.eps, norm.rms, ep, res);
  FV_CUDA_CHECK_LAUNCH();
}

bool aligned_to(const void* p, size_t bytes) {
  return p == nullptr || reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

}  // namespace

namespace {

// row_norm, or with `fp8` its rows quantized to E4M3 in *fp8 instead of the result (returned
// undefined).
Tensor run_row_norm(const Tensor& x, const RowNorm& norm, Fp8Rows* fp8) {
  FV_CHECK(x.ndim() >= 1, norm.op, ": expected x [..., D], got ", x.describe());
  const int64_t D = x.size(-1), rows = D == 0 ? 0 : x.numel() / D;
  const bool modulated = norm.shift.defined() || norm.scale.defined();
  const bool rope = norm.cos.defined() || norm.sin.defined();
  const bool residual = norm.residual.defined();
  FV_CHECK(!modulated || (norm.shift.defined() && norm.scale.defined()), norm.op,
           ": shift and scale come together");
  FV_CHECK(!rope || (norm.cos.defined() && norm.sin.defined()), norm.op,
           ": cos and sin come together");
  FV_CHECK(D <= int64_t(kMaxLanes) * kRowFloats, norm.op, ": rows of ", D,
           " elements exceed the CUDA kernel's ", kMaxLanes * kRowFloats, "-element limit");
  FV_CHECK(!residual || (norm.sum != nullptr && !rope && norm.residual.shape() == x.shape() &&
                         norm.residual.dtype() == x.dtype()),
           norm.op, ": the residual must be like x ", x.describe(), ", got ",
           norm.residual.describe());
  if (residual) check_same_device(norm.residual, x, norm.op, "residual");
  int64_t B = 1, S = rows, head_dim = 0;
  if (modulated || rope || norm.gate.defined()) {
    FV_CHECK(x.ndim() == 3, norm.op, ": expected x [B,S,D], got ", x.describe());
    B = x.size(0);
    S = x.size(1);
  }
  if (rope) {
    FV_CHECK(norm.heads > 0 && D % norm.heads == 0 && (D / norm.heads) % 2 == 0, norm.op, ": ",
             x.describe(), " does not split into ", norm.heads, " heads of even size");
    head_dim = D / norm.heads;
  }

  // Parameters (weight, bias, shift, scale) are read through one type: the first one's.
  Tensor weight, bias;
  BatchRows shift, scale;
  const Tensor* params[] = {&norm.weight, &norm.bias, &norm.shift, &norm.scale};
  DType param_dtype = DType::F32;
  for (const Tensor* p : params) {
    if (p->defined()) {
      param_dtype = p->dtype();
      break;
    }
  }
  auto param = [&](const Tensor& t) { return t.dtype() == param_dtype ? t : t.to(param_dtype); };
  const int64_t vec_shape[] = {D};
  if (norm.weight.defined()) {
    check_shape(norm.weight, vec_shape, std::string(norm.op) + " weight");
    check_same_device(norm.weight, x, norm.op, "weight");
    weight = param(norm.weight).contiguous();
  }
  if (norm.bias.defined()) {
    check_shape(norm.bias, vec_shape, std::string(norm.op) + " bias");
    check_same_device(norm.bias, x, norm.op, "bias");
    bias = param(norm.bias).contiguous();
  }
  if (modulated) {
    shift = batch_rows(param(norm.shift), x, B, D, norm.op, "shift");
    scale = batch_rows(param(norm.scale), x, B, D, norm.op, "scale");
  }
  BatchRows gate;
  if (norm.gate.defined()) {
    FV_CHECK(residual, norm.op, ": a gate without a residual");
    gate = batch_rows(norm.gate.to(DType::F32), x, B, D, norm.op, "gate");
  }
  Tensor residual_rows = residual ? norm.residual.contiguous() : Tensor();
  if (residual) *norm.sum = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor cos, sin;
  if (rope) {
    const int64_t table[] = {S, head_dim / 2};
    check_shape(norm.cos, table, std::string(norm.op) + " cos table");
    check_shape(norm.sin, table, std::string(norm.op) + " sin table");
    check_same_device(norm.cos, x, norm.op, "cos table");
    check_same_device(norm.sin, x, norm.op, "sin table");
    cos = norm.cos.to(DType::F32).contiguous();
    sin = norm.sin.to(DType::F32).contiguous();
  }

  Tensor xc = x.contiguous();
  if (rope) {  // RoPE needs both elements of a pair in one thread: vectors of at least 2
    if (!aligned_to(xc.raw_data(), 8)) xc = xc.clone();
    if (weight.defined() && !aligned_to(weight.raw_data(), 8)) weight = weight.clone();
  }
  Shape out_shape = x.shape();
  if (rope) out_shape = {B, S, norm.heads, head_dim};
  Tensor y;
  if (fp8) {
    FV_CHECK(!rope && x.dtype() == DType::BF16 && D % 16 == 0, norm.op,
             " with FP8 rows takes BF16 rows of a multiple of 16 elements, got ", x.describe());
    *fp8 = {Tensor::empty(x.shape(), DType::F8E4M3, x.device()),
            Tensor::empty({rows}, DType::F32, x.device())};
    if (rows == 0) return y;
  } else {
    y = Tensor::empty(out_shape, x.dtype(), x.device());
    if (y.numel() == 0) return y;
  }
  CudaContext& ctx = context_of(x);
  bool unaligned_fp8 = false, unaligned_residual = false;
  with_float_type(x, norm.op, [&](auto tx) {
    with_float_type(param_dtype, norm.op, "a weight, bias, shift or scale", [&](auto tp) {
      using TX = decltype(tx);
      using TP = decltype(tp);
      const Epilogue<TP> ep{
          weight.defined() ? weight.data<TP>() : nullptr,
          bias.defined() ? bias.data<TP>() : nullptr,
          modulated ? shift.tensor.data<TP>() : nullptr,
          modulated ? scale.tensor.data<TP>() : nullptr,
          shift.stride,
          scale.stride,
          S,
          rope ? cos.data<float>() : nullptr,
          rope ? sin.data<float>() : nullptr,
          int(head_dim),
          fp8 ? static_cast<uint8_t*>(fp8->values.raw_data()) : nullptr,
          fp8 ? fp8->scales.data<float>() : nullptr,
      };
      const TX* px = xc.data<TX>();
      TX* py = fp8 ? nullptr : y.data<TX>();
      const ResidualRows<TX> res{residual ? residual_rows.data<TX>() : nullptr,
                                 gate.tensor.defined() ? gate.tensor.data<float>() : nullptr,
                                 gate.stride, residual ? norm.sum->data<TX>() : nullptr};
      const void* pointers[] = {px, ep.weight, ep.bias, ep.shift, ep.scale, res.y, res.gate};
      auto fits = [&](int width, size_t align) {
        for (const void* p : pointers) {
          if (!aligned_to(p, align)) return false;
        }
        return D % width == 0 &&
               (!modulated || (shift.stride % width == 0 && scale.stride % width == 0)) &&
               (!res.gate || gate.stride % width == 0);
      };
      constexpr int kVec = kVector<TX>;
      if (residual && !fits(kVec, 16)) {
        unaligned_residual = true;  // below: the sum, then the norm
        return;
      }
      if (fp8) {
        if constexpr (std::is_same_v<TX, bf16>) {
          if (fits(kVec, 16)) {
            launch_row_norm<kVec, true>(ctx, px, py, rows, int(D), norm, ep, res);
            return;
          }
        }
        unaligned_fp8 = true;  // below: the norm, then the quantizer
        return;
      }
      if (fits(kVec, 16)) {
        launch_row_norm<kVec>(ctx, px, py, rows, int(D), norm, ep, res);
      } else if (fits(2, 8)) {
        launch_row_norm<2>(ctx, px, py, rows, int(D), norm, ep, res);
      } else {
        FV_CHECK(!rope, norm.op, ": internal: no even vector width for ", x.describe());
        launch_row_norm<1>(ctx, px, py, rows, int(D), norm, ep, res);
      }
    });
  });
  // A residual sum the kernel cannot read at full vector width (a misaligned view): the sum as
  // gated_residual or add makes it, then the norm of that fresh tensor, so the statistics add in
  // the order the two ops' pair adds them (each width splits a row differently).
  if (unaligned_residual) {
    *norm.sum = norm.gate.defined() ? cuda::gated_residual(x, norm.residual, norm.gate)
                                    : cuda::add(x, norm.residual);
    RowNorm plain = norm;
    plain.residual = plain.gate = Tensor();
    plain.sum = nullptr;
    return run_row_norm(*norm.sum, plain, fp8);
  }
  // FP8 rows of an input the fused kernel cannot read at full vector width (a misaligned view):
  // the same bytes in two passes.
  if (unaligned_fp8) *fp8 = cuda::quantize_rows_fp8(run_row_norm(x, norm, nullptr));
  return y;
}

}  // namespace

Tensor row_norm(const Tensor& x, const RowNorm& norm) { return run_row_norm(x, norm, nullptr); }

Fp8Rows row_norm_fp8(const Tensor& x, const RowNorm& norm) {
  Fp8Rows rows;
  run_row_norm(x, norm, &rows);
  return rows;
}

}  // namespace cuda_kernels

namespace cuda {

Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias) {
  cuda_kernels::RowNorm norm;
  norm.op = "layer_norm";
  norm.eps = eps;
  norm.weight = weight;
  norm.bias = bias;
  return cuda_kernels::row_norm(x, norm);
}

Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight) {
  cuda_kernels::RowNorm norm;
  norm.op = "rms_norm";
  norm.rms = true;
  norm.eps = eps;
  norm.weight = weight;
  return cuda_kernels::row_norm(x, norm);
}

Tensor layer_norm_modulate(const Tensor& x, float eps, const Tensor& shift, const Tensor& scale) {
  FV_CHECK(shift.defined() && scale.defined(), "layer_norm_modulate: shift and scale are required");
  cuda_kernels::RowNorm norm;
  norm.op = "layer_norm_modulate";
  norm.eps = eps;
  norm.shift = shift;
  norm.scale = scale;
  return cuda_kernels::row_norm(x, norm);
}

// norm_fp8.h: the same kernel writing FP8 rows.
Fp8Rows layer_norm_fp8(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias) {
  cuda_kernels::RowNorm norm;
  norm.op = "layer_norm_fp8";
  norm.eps = eps;
  norm.weight = weight;
  norm.bias = bias;
  return cuda_kernels::row_norm_fp8(x, norm);
}

Fp8Rows layer_norm_modulate_fp8(const Tensor& x, float eps, const Tensor& shift,
                                const Tensor& scale) {
  FV_CHECK(shift.defined() && scale.defined(),
           "layer_norm_modulate_fp8: shift and scale are required");
  cuda_kernels::RowNorm norm;
  norm.op = "layer_norm_modulate_fp8";
  norm.eps = eps;
  norm.shift = shift;
  norm.scale = scale;
  return cuda_kernels::row_norm_fp8(x, norm);
}

// residual_norm.h: the row-norm kernel reading x + y·gate and writing that sum too.
ResidualNorm residual_norm(const Tensor& x, const Tensor& y, const Tensor& gate,
                           const NormAfterResidual& after) {
  cuda_kernels::RowNorm norm;
  norm.op = "residual_norm";
  norm.eps = after.eps;
  (after.modulate ? norm.shift : norm.weight) = after.a;
  (after.modulate ? norm.scale : norm.bias) = after.b;
  norm.residual = y;
  norm.gate = gate;
  ResidualNorm r;
  norm.sum = &r.sum;
  if (after.fp8)
    r.rows = cuda_kernels::row_norm_fp8(x, norm);
  else
    r.normed = cuda_kernels::row_norm(x, norm);
  return r;
}

}  // namespace cuda

}  // namespace fastvideo::ops
