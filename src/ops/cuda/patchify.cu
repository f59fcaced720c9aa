// CUDA twins of src/ops/cpu/patchify.cpp: the same index maps (wan21.md §1.3, §1.6), one thread per
// output element so the stores are coalesced. Pure data movement; the dtype is kept.
#include <cuda_bf16.h>

#include "ops/cuda/memory_bound.cuh"
#include "ops/patchify.h"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

struct Grid {
  int64_t B, C, T, H, W;  // video
  int64_t pt, ph, pw;     // patch
};

// y [B, S, C·pt·ph·pw], token vector ordered (c, kt, kh, kw).
template <class T>
__global__ void patchify_kernel(const T* __restrict__ x, T* __restrict__ y, Grid g, int64_t n) {
  const int64_t Hp = g.H / g.ph, Wp = g.W / g.pw, S = (g.T / g.pt) * Hp * Wp;
  const int64_t K = g.C * g.pt * g.ph * g.pw;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t r = i / K, e = i - r * K;
    const int64_t b = r / S, s = r - b * S;
    const int64_t f = s / (Hp * Wp), h = (s / Wp) % Hp, w = s % Wp;
    const int64_t kw = e % g.pw;
    e /= g.pw;
    const int64_t kh = e % g.ph;
    e /= g.ph;
    const int64_t kt = e % g.pt, c = e / g.pt;
    y[i] = x[(((b * g.C + c) * g.T + f * g.pt + kt) * g.H + h * g.ph + kh) * g.W + w * g.pw + kw];
  }
}

// x [B, C, T, H, W] from y [B, S, pt·ph·pw·C], token vector ordered (kt, kh, kw, c).
template <class T>
__global__ void unpatchify_kernel(const T* __restrict__ y, T* __restrict__ x, Grid g, int64_t n) {
  const int64_t Tp = g.T / g.pt, Hp = g.H / g.ph, Wp = g.W / g.pw;
  const int64_t K = g.C * g.pt * g.ph * g.pw;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i;
    const int64_t xw = rem % g.W;
    rem /= g.W;
    const int64_t xh = rem % g.H;
    rem /= g.H;
    const int64_t xt = rem % g.T;
    rem /= g.T;
    const int64_t c = rem % g.C, b = rem / g.C;
    const int64_t s = ((xt / g.pt) * Hp + xh / g.ph) * Wp + xw / g.pw;
    const int64_t e = (((xt % g.pt) * g.ph + xh % g.ph) * g.pw + xw % g.pw) * g.C + c;
    x[i] = y[(b * Tp * Hp * Wp + s) * K + e];
  }
}

}  // namespace

Tensor patchify(const Tensor& x, std::array<int, 3> patch) {
  FV_CHECK(x.ndim() == 5, "patchify: expected x [B,C,T,H,W], got ", x.describe());
  const Grid g{x.size(0), x.size(1), x.size(2), x.size(3), x.size(4), patch[0], patch[1], patch[2]};
  FV_CHECK(
      g.pt > 0 && g.ph > 0 && g.pw > 0 && g.T % g.pt == 0 && g.H % g.ph == 0 && g.W % g.pw == 0,
      "patchify: ", x.describe(), " is not divisible into patches [", g.pt, ",", g.ph, ",", g.pw,
      "]");
  const int64_t S = (g.T / g.pt) * (g.H / g.ph) * (g.W / g.pw);
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({g.B, S, g.C * g.pt * g.ph * g.pw}, x.dtype(), x.device());
  const int64_t n = y.numel();
  if (n == 0) return y;
  CudaContext& ctx = k::context_of(x);
  k::with_float_type(x, "patchify", [&](auto tag) {
    using T = decltype(tag);
    patchify_kernel<<<k::grid_for(ctx, n), k::kThreads, 0, ctx.stream()>>>(xc.data<T>(),
                                                                           y.data<T>(), g, n);
    FV_CUDA_CHECK_LAUNCH();
  });
  return y;
}

Tensor unpatchify(const Tensor& y, std::array<int64_t, 3> grid, std::array<int, 3> patch) {
  const int64_t pt = patch[0], ph = patch[1], pw = patch[2], volume = pt * ph * pw;
  const int64_t Tp = grid[0], Hp = grid[1], Wp = grid[2], S = Tp * Hp * Wp;
  FV_CHECK(y.ndim() == 3 && y.size(1) == S && volume > 0 && y.size(2) % volume == 0,
           "unpatchify: expected y [B, ", S, ", C·", volume, "] for grid [", Tp, ",", Hp, ",", Wp,
           "], got ", y.describe());
  const Grid g{y.size(0), y.size(2) / volume, Tp * pt, Hp * ph, Wp * pw, pt, ph, pw};
  Tensor yc = y.contiguous();
  Tensor x = Tensor::empty({g.B, g.C, g.T, g.H, g.W}, y.dtype(), y.device());
  const int64_t n = x.numel();
  if (n == 0) return x;
  CudaContext& ctx = k::context_of(y);
  k::with_float_type(y, "unpatchify", [&](auto tag) {
    using T = decltype(tag);
    unpatchify_kernel<<<k::grid_for(ctx, n), k::kThreads, 0, ctx.stream()>>>(yc.data<T>(),
                                                                             x.data<T>(), g, n);
    FV_CUDA_CHECK_LAUNCH();
  });
  return x;
}

}  // namespace fastvideo::ops::cuda
