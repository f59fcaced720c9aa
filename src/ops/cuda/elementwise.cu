// CUDA twins of src/ops/cpu/elementwise.cpp. Each kernel is one grid-stride pass with 16-byte
// vector accesses where the pointers allow, fp32 math, and the dtype of the first tensor argument
// for the result (DESIGN §3); mixed F32/BF16 operands are read as they are.
#include <cuda_bf16.h>

#include "ops/cuda/memory_bound.cuh"
#include "ops/elementwise.h"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

struct AddOp {
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MulOp {
  __device__ float operator()(float a, float b) const { return a * b; }
};
struct ScaleOp {
  float s;
  __device__ float operator()(float v) const { return v * s; }
};
struct SiluOp {
  __device__ float operator()(float v) const { return v / (1.0f + expf(-v)); }
};
struct GeluTanhOp {
  __device__ float operator()(float v) const {
    const float k = 0.7978845608028654f;  // √(2/π)
    return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
  }
};
struct ClampOp {
  float lo, hi;
  // std::clamp's comparisons, so a NaN passes through as on the CPU.
  __device__ float operator()(float v) const { return v < lo ? lo : (hi < v ? hi : v); }
};

// Vectors of N elements, then the n % N tail one element per thread.
template <int N, class T, class Op>
__global__ void unary_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t n, Op op) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  const int64_t vectors = n / N;
  for (int64_t v = first; v < vectors; v += step) {
    float a[N];
    k::load<N>(x + v * N, a);
#pragma unroll
    for (int j = 0; j < N; ++j) a[j] = op(a[j]);
    k::store<N>(y + v * N, a);
  }
  for (int64_t i = vectors * N + first; i < n; i += step)
    y[i] = k::from_f32<T>(op(k::to_f32(x[i])));
}

template <int N, class TA, class TB, class Op>
__global__ void binary_kernel(const TA* __restrict__ a, const TB* __restrict__ b,
                              TA* __restrict__ y, int64_t n, Op op) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  const int64_t vectors = n / N;
  for (int64_t v = first; v < vectors; v += step) {
    float va[N], vb[N];
    k::load<N>(a + v * N, va);
    k::load<N>(b + v * N, vb);
#pragma unroll
    for (int j = 0; j < N; ++j) va[j] = op(va[j], vb[j]);
    k::store<N>(y + v * N, va);
  }
  for (int64_t i = vectors * N + first; i < n; i += step) {
    y[i] = k::from_f32<TA>(op(k::to_f32(a[i]), k::to_f32(b[i])));
  }
}

// x [rows = B·S, D]; shift/scale rows b = row / S, their strides apart. D % N == 0.
template <int N, class TX, class TV>
__global__ void modulate_kernel(const TX* __restrict__ x, const TV* __restrict__ shift,
                                int64_t shift_stride, const TV* __restrict__ scale,
                                int64_t scale_stride, TX* __restrict__ y, int64_t rows, int64_t S,
                                int64_t D) {
  const int64_t per_row = D / N, vectors = rows * per_row;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < vectors;
       v += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = v / per_row, c = (v - r * per_row) * N, b = r / S;
    float a[N], sh[N], sc[N];
    k::load<N>(x + r * D + c, a);
    k::load<N>(shift + b * shift_stride + c, sh);
    k::load<N>(scale + b * scale_stride + c, sc);
#pragma unroll
    for (int j = 0; j < N; ++j) a[j] = a[j] * (1.0f + sc[j]) + sh[j];
    k::store<N>(y + r * D + c, a);
  }
}

// out = x + y·gate[b]; x [rows, D], y like x, gate rows b = row / S.
template <int N, class TX, class TY, class TG>
__global__ void gated_residual_kernel(const TX* __restrict__ x, const TY* __restrict__ y,
                                      const TG* __restrict__ gate, int64_t gstride,
                                      TX* __restrict__ out, int64_t rows, int64_t S, int64_t D) {
  const int64_t per_row = D / N, vectors = rows * per_row;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < vectors;
       v += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = v / per_row, c = (v - r * per_row) * N;
    float a[N], b[N], g[N];
    k::load<N>(x + r * D + c, a);
    k::load<N>(y + r * D + c, b);
    k::load<N>(gate + (r / S) * gstride + c, g);
#pragma unroll
    for (int j = 0; j < N; ++j) a[j] = fmaf(b[j], g[j], a[j]);  // one rounding, as residual_norm
    k::store<N>(out + r * D + c, a);
  }
}

// y [rows, F] = gelu_tanh(x[r, c]) · x[r, F + c] over x [rows, 2F]. F % N == 0.
template <int N, class T>
__global__ void gelu_tanh_gate_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows,
                                      int64_t F) {
  const int64_t per_row = F / N, vectors = rows * per_row;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < vectors;
       v += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = v / per_row, c = (v - r * per_row) * N;
    float g[N], l[N];
    k::load<N>(x + r * 2 * F + c, g);
    k::load<N>(x + r * 2 * F + F + c, l);
#pragma unroll
    for (int j = 0; j < N; ++j) g[j] = GeluTanhOp{}(g[j]) * l[j];
    k::store<N>(y + r * F + c, g);
  }
}

// Exponent all ones (Inf or NaN) in either storage format.
__device__ __forceinline__ bool non_finite(float v) {
  return (__float_as_uint(v) & 0x7f800000u) == 0x7f800000u;
}

template <int N, class T>
__global__ void all_finite_kernel(const T* __restrict__ x, int64_t n, int* flag) {
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  const int64_t vectors = n / N;
  bool bad = false;
  for (int64_t v = first; v < vectors; v += step) {
    float a[N];
    k::load<N>(x + v * N, a);
#pragma unroll
    for (int j = 0; j < N; ++j) bad |= non_finite(a[j]);
  }
  for (int64_t i = vectors * N + first; i < n; i += step) bad |= non_finite(k::to_f32(x[i]));
  if (__syncthreads_or(bad) && threadIdx.x == 0) *flag = 1;
}

template <class Op>
Tensor unary(const Tensor& x, const char* name, Op op) {
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = y.numel();
  if (n == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, name, [&](auto tag) {
    using T = decltype(tag);
    const T* in = xc.data<T>();
    T* out = y.data<T>();
    if (k::can_vectorise({in}, {}, k::kVector<T>)) {
      constexpr int N = k::kVector<T>;
      unary_kernel<N><<<k::grid_for(ctx, n / N), k::kThreads, 0, ctx.stream()>>>(in, out, n, op);
    } else {
      unary_kernel<1><<<k::grid_for(ctx, n), k::kThreads, 0, ctx.stream()>>>(in, out, n, op);
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

template <class Op>
Tensor binary(const Tensor& a, const Tensor& b, const char* name, Op op) {
  FV_CHECK(a.shape() == b.shape(), name, ": shapes differ: ", a.describe(), " and ", b.describe());
  k::check_same_device(b, a, name, "second operand");
  Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  const int64_t n = y.numel();
  if (n == 0) return y;
  CudaContext& ctx = k::context_of(a);
  k::with_float_type(a, name, [&](auto ta) {
    k::with_float_type(b, name, [&](auto tb) {
      using TA = decltype(ta);
      using TB = decltype(tb);
      const TA* pa = ac.data<TA>();
      const TB* pb = bc.data<TB>();
      TA* out = y.data<TA>();
      if (k::can_vectorise({pa, pb}, {}, k::kVector<TA>)) {
        constexpr int N = k::kVector<TA>;
        binary_kernel<N>
            <<<k::grid_for(ctx, n / N), k::kThreads, 0, ctx.stream()>>>(pa, pb, out, n, op);
      } else {
        binary_kernel<1><<<k::grid_for(ctx, n), k::kThreads, 0, ctx.stream()>>>(pa, pb, out, n, op);
      }
      FV_CUDA_CHECK_LAUNCH();
    });
  });
  return y;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, "add", AddOp{}); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, "mul", MulOp{}); }
Tensor scale(const Tensor& a, float s) { return unary(a, "scale", ScaleOp{s}); }
Tensor silu(const Tensor& x) { return unary(x, "silu", SiluOp{}); }
Tensor gelu_tanh(const Tensor& x) { return unary(x, "gelu_tanh", GeluTanhOp{}); }
Tensor clamp(const Tensor& x, float lo, float hi) { return unary(x, "clamp", ClampOp{lo, hi}); }

Tensor gelu_tanh_gate(const Tensor& x) {
  const int64_t F = x.size(-1) / 2, rows = F ? x.numel() / (2 * F) : 0;
  Shape shape = x.shape();
  shape.back() = F;
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(shape, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "gelu_tanh_gate", [&](auto tag) {
    using T = decltype(tag);
    constexpr int V = k::kVector<T>;
    const T* in = xc.data<T>();
    T* out = y.data<T>();
    if (k::can_vectorise({in, out}, {F}, V)) {
      gelu_tanh_gate_kernel<V>
          <<<k::grid_for(ctx, rows * F / V), k::kThreads, 0, ctx.stream()>>>(in, out, rows, F);
    } else {
      gelu_tanh_gate_kernel<1>
          <<<k::grid_for(ctx, rows * F), k::kThreads, 0, ctx.stream()>>>(in, out, rows, F);
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

Tensor modulate(const Tensor& x, const Tensor& shift, const Tensor& scale) {
  FV_CHECK(x.ndim() == 3, "modulate: expected x [B,S,D], got ", x.describe());
  const int64_t B = x.size(0), S = x.size(1), D = x.size(2);
  k::BatchRows sh = k::batch_rows(shift, x, B, D, "modulate", "shift");
  k::BatchRows sc = k::batch_rows(scale, x, B, D, "modulate", "scale");
  // Both vectors are read through one type; a rare mixed pair is unified on the device.
  if (sc.tensor.dtype() != sh.tensor.dtype()) {
    sc.tensor = sc.tensor.to(sh.tensor.dtype());
    sc.stride = B > 1 ? sc.tensor.strides()[0] : D;
  }
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "modulate", [&](auto tx) {
    k::with_float_type(sh.tensor, "modulate", [&](auto tv) {
      using TX = decltype(tx);
      using TV = decltype(tv);
      const TX* px = xc.data<TX>();
      const TV* psh = sh.tensor.data<TV>();
      const TV* psc = sc.tensor.data<TV>();
      TX* out = y.data<TX>();
      constexpr int N = k::kVector<TX>;
      if (k::can_vectorise({px, psh, psc}, {D, sh.stride, sc.stride}, N)) {
        modulate_kernel<N><<<k::grid_for(ctx, B * S * D / N), k::kThreads, 0, ctx.stream()>>>(
            px, psh, sh.stride, psc, sc.stride, out, B * S, S, D);
      } else {
        modulate_kernel<1><<<k::grid_for(ctx, B * S * D), k::kThreads, 0, ctx.stream()>>>(
            px, psh, sh.stride, psc, sc.stride, out, B * S, S, D);
      }
      FV_CUDA_CHECK_LAUNCH();
    });
  });
  return y;
}

Tensor gated_residual(const Tensor& x, const Tensor& y, const Tensor& gate) {
  FV_CHECK(x.shape() == y.shape(), "gated_residual: ", x.describe(), " vs ", y.describe());
  FV_CHECK(x.ndim() == 3, "gated_residual: expected x [B,S,D], got ", x.describe());
  k::check_same_device(y, x, "gated_residual", "y");
  const int64_t B = x.size(0), S = x.size(1), D = x.size(2);
  k::BatchRows g = k::batch_rows(gate, x, B, D, "gated_residual", "gate");
  Tensor xc = x.contiguous(), yc = y.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "gated_residual", [&](auto tx) {
    k::with_float_type(y, "gated_residual", [&](auto ty) {
      k::with_float_type(g.tensor, "gated_residual", [&](auto tg) {
        using TX = decltype(tx);
        using TY = decltype(ty);
        using TG = decltype(tg);
        const TX* px = xc.data<TX>();
        const TY* py = yc.data<TY>();
        const TG* pg = g.tensor.data<TG>();
        TX* po = out.data<TX>();
        constexpr int N = k::kVector<TX>;
        if (k::can_vectorise({px, py, pg}, {D, g.stride}, N)) {
          gated_residual_kernel<N>
              <<<k::grid_for(ctx, B * S * D / N), k::kThreads, 0, ctx.stream()>>>(
                  px, py, pg, g.stride, po, B * S, S, D);
        } else {
          gated_residual_kernel<1><<<k::grid_for(ctx, B * S * D), k::kThreads, 0, ctx.stream()>>>(
              px, py, pg, g.stride, po, B * S, S, D);
        }
        FV_CUDA_CHECK_LAUNCH();
      });
    });
  });
  return out;
}

bool all_finite(const Tensor& t) {
  if (t.numel() == 0) return true;
  Tensor tc = t.contiguous();
  Tensor flag = Tensor::zeros({1}, DType::I32, t.device());
  CudaContext& ctx = k::context_of(t);
  const int64_t n = t.numel();
  k::with_float_type(t, "all_finite", [&](auto tag) {
    using T = decltype(tag);
    const T* p = tc.data<T>();
    int* f = flag.data<int32_t>();
    if (k::can_vectorise({p}, {}, k::kVector<T>)) {
      constexpr int N = k::kVector<T>;
      all_finite_kernel<N><<<k::grid_for(ctx, n / N), k::kThreads, 0, ctx.stream()>>>(p, n, f);
    } else {
      all_finite_kernel<1><<<k::grid_for(ctx, n), k::kThreads, 0, ctx.stream()>>>(p, n, f);
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  // The one host synchronisation of this family: the flag comes back to decide.
  return flag.to(Device::cpu()).data<int32_t>()[0] == 0;
}

}  // namespace fastvideo::ops::cuda
