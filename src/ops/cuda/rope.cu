// CUDA twins of src/ops/cpu/rope.cpp (wan21.md §1.4): apply_rope rotates interleaved pairs with
// fp32 cos/sin tables; rms_norm_rope is the row-norm kernel with a RoPE epilogue (row_norm.h).
#include <cuda_bf16.h>

#include "ops/cuda/memory_bound.cuh"
#include "ops/cuda/row_norm.h"
#include "ops/rope.h"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

// x [B, S, H, D] contiguous, N (even) elements per step: a step never splits a pair, and pairs
// never straddle heads because D is even.
template <int N, class T>
__global__ void rope_kernel(const T* __restrict__ x, const float* __restrict__ cos,
                            const float* __restrict__ sin, T* __restrict__ y, int64_t n, int64_t S,
                            int64_t H, int D) {
  const int half = D / 2;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < n / N;
       v += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = v * N, head_row = i / D;  // (b, s, h) flattened
    const int d0 = int(i - head_row * D);
    const int64_t s = (head_row / H) % S;
    float a[N];
    k::load<N>(x + i, a);
#pragma unroll
    for (int j = 0; j < N; j += 2) {
      const int64_t t = s * half + (d0 + j) / 2;
      const float c = cos[t], sn = sin[t], x0 = a[j], x1 = a[j + 1];
      a[j] = x0 * c - x1 * sn;
      a[j + 1] = x0 * sn + x1 * c;
    }
    k::store<N>(y + i, a);
  }
}

}  // namespace

Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  FV_CHECK(x.ndim() == 4 && x.size(3) % 2 == 0,
           "apply_rope: expected x [B,S,H,D] with even D, got ", x.describe());
  const int64_t S = x.size(1), H = x.size(2), D = x.size(3);
  const int64_t expected[] = {S, D / 2};
  check_shape(cos, expected, "apply_rope cos table");
  check_shape(sin, expected, "apply_rope sin table");
  k::check_same_device(cos, x, "apply_rope", "cos table");
  k::check_same_device(sin, x, "apply_rope", "sin table");
  Tensor cc = cos.to(DType::F32).contiguous(), sc = sin.to(DType::F32).contiguous();
  Tensor xc = x.contiguous();
  if (reinterpret_cast<uintptr_t>(xc.raw_data()) % (2 * dtype_size(xc.dtype())) != 0) {
    xc = xc.clone();  // a view starting mid-pair: a fresh copy is aligned
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = y.numel();
  if (n == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "apply_rope", [&](auto tag) {
    using T = decltype(tag);
    const T* px = xc.data<T>();
    T* py = y.data<T>();
    const float* pc = cc.data<float>();
    const float* ps = sc.data<float>();
    constexpr int N = k::kVector<T>;
    if (k::can_vectorise({px}, {D}, N)) {
      rope_kernel<N><<<k::grid_for(ctx, n / N), k::kThreads, 0, ctx.stream()>>>(px, pc, ps, py, n,
                                                                                S, H, int(D));
    } else {
      rope_kernel<2><<<k::grid_for(ctx, n / 2), k::kThreads, 0, ctx.stream()>>>(px, pc, ps, py, n,
                                                                                S, H, int(D));
    }
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

Tensor rms_norm_rope(const Tensor& x, float eps, const Tensor& weight, const Tensor& cos,
                     const Tensor& sin, int64_t heads) {
  k::RowNorm norm;
  norm.op = "rms_norm_rope";
  norm.rms = true;
  norm.eps = eps;
  norm.weight = weight;
  norm.cos = cos;
  norm.sin = sin;
  norm.heads = heads;
  return k::row_norm(x, norm);
}

}  // namespace fastvideo::ops::cuda
