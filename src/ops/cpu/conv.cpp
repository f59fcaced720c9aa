// conv3d as im2col + sgemm. For each batch item the output [O, N] (N = T'·H'·W' positions) is
// W[O, K] · col[K, N] with K = C·kt·kh·kw. col is built in tiles of whole output rows (a row is
// W' positions) so its size stays bounded (kColumnBudget floats) at any resolution; the im2col
// of a tile runs on our thread pool, the GEMM on OpenBLAS's threads (never both at once).
// 1×1×1 convolutions without padding skip im2col: the input already is col.
#include "ops/conv.h"

#include <algorithm>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/sgemm.h"

namespace fastvideo::ops::cpu {

namespace {

constexpr int64_t kColumnBudget = int64_t(8) << 20;  // floats per im2col tile (32 MiB)

struct Geometry {
  int64_t C, T, H, W;  // input
  int64_t kt, kh, kw;  // kernel
  int64_t To, Ho, Wo;  // output
  Conv3dPadding pad;
};

// Rows [k0, k1) of the column tile covering output rows [r0, r0 + rows) (row = one (t', h')).
void im2col_rows(const float* x, const Geometry& g, int64_t r0, int64_t rows, int64_t k0,
                 int64_t k1, float* col) {
  const int64_t nt = rows * g.Wo;
  for (int64_t k = k0; k < k1; ++k) {
    const int64_t dw = k % g.kw, dh = (k / g.kw) % g.kh, dt = (k / (g.kw * g.kh)) % g.kt;
    const int64_t c = k / (g.kw * g.kh * g.kt);
    // Output columns wo with 0 <= wo + dw - pad.width < W read the input; the rest are zero.
    const int64_t shift = dw - g.pad.width;
    const int64_t lo = std::clamp<int64_t>(-shift, 0, g.Wo);
    const int64_t hi = std::clamp<int64_t>(g.W - shift, lo, g.Wo);
    float* dst_row = col + k * nt;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t to = (r0 + r) / g.Ho, ho = (r0 + r) % g.Ho;
      const int64_t ti = to + dt - g.pad.time_front, hi_in = ho + dh - g.pad.height;
      float* dst = dst_row + r * g.Wo;
      if (ti < 0 || ti >= g.T || hi_in < 0 || hi_in >= g.H) {
        std::fill(dst, dst + g.Wo, 0.0f);
        continue;
      }
      const float* src = x + ((c * g.T + ti) * g.H + hi_in) * g.W + shift;
      std::fill(dst, dst + lo, 0.0f);
      std::copy(src + lo, src + hi, dst + lo);
      std::fill(dst + hi, dst + g.Wo, 0.0f);
    }
  }
}

}  // namespace

Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dPadding& padding) {
  FV_CHECK(x.ndim() == 5, "conv3d: expected input [B,C,T,H,W], got ", x.describe());
  FV_CHECK(weight.ndim() == 5 && weight.size(1) == x.size(1), "conv3d: weight ", weight.describe(),
           " does not match input ", x.describe(), " (expected [O,", x.size(1), ",kt,kh,kw])");
  FV_CHECK(padding.time_front >= 0 && padding.time_back >= 0 && padding.height >= 0 &&
               padding.width >= 0,
           "conv3d: negative padding");
  Geometry g{x.size(1),      x.size(2), x.size(3), x.size(4), weight.size(2), weight.size(3),
             weight.size(4), 0,         0,         0,         padding};
  g.To = g.T + padding.time_front + padding.time_back - g.kt + 1;
  g.Ho = g.H + 2 * padding.height - g.kh + 1;
  g.Wo = g.W + 2 * padding.width - g.kw + 1;
  FV_CHECK(g.To > 0 && g.Ho > 0 && g.Wo > 0, "conv3d: kernel ", shape_str(weight.shape()),
           " does not fit input ", x.describe(), " with padding (t ", padding.time_front, "+",
           padding.time_back, ", h ", padding.height, ", w ", padding.width, ")");
  const int64_t B = x.size(0), O = weight.size(0);
  const int64_t K = g.C * g.kt * g.kh * g.kw, N = g.To * g.Ho * g.Wo;
  Tensor bc;
  if (bias.defined()) {
    check_shape(bias, std::array<int64_t, 1>{O}, "conv3d bias");
    bc = bias.contiguous();
  }
  Tensor xc = x.contiguous(), wc = weight.contiguous();
  Tensor y = Tensor::empty({B, O, g.To, g.Ho, g.Wo}, DType::F32);
  if (y.numel() == 0) return y;
  const float* px = xc.f32().data();
  const float* pw = wc.f32().data();
  float* py = y.data<float>();

  const bool pointwise = K == g.C && padding.time_front == 0 && padding.time_back == 0 &&
                         padding.height == 0 && padding.width == 0;
  const int64_t total_rows = g.To * g.Ho;
  const int64_t tile_rows =
      std::clamp<int64_t>(kColumnBudget / std::max<int64_t>(K * g.Wo, 1), 1, total_rows);
  std::vector<float> col(pointwise ? 0 : size_t(K * tile_rows * g.Wo));

  for (int64_t b = 0; b < B; ++b) {
    const float* xb = px + b * g.C * g.T * g.H * g.W;
    float* yb = py + b * O * N;
    float beta = 0.0f;
    if (bc.defined()) {
      const float* pb = bc.f32().data();
      parallel_for(O, 1, [&](int64_t o0, int64_t o1) {
        for (int64_t o = o0; o < o1; ++o) std::fill(yb + o * N, yb + (o + 1) * N, pb[o]);
      });
      beta = 1.0f;
    }
    if (pointwise) {
      sgemm(false, false, int(O), int(N), int(K), 1.0f, pw, int(K), xb, int(N), beta, yb, int(N));
      continue;
    }
    for (int64_t r0 = 0; r0 < total_rows; r0 += tile_rows) {
      const int64_t rows = std::min(tile_rows, total_rows - r0), nt = rows * g.Wo;
      parallel_for(K, std::max<int64_t>(1, (int64_t(1) << 14) / nt), [&](int64_t k0, int64_t k1) {
        im2col_rows(xb, g, r0, rows, k0, k1, col.data());
      });
      sgemm(false, false, int(O), int(nt), int(K), 1.0f, pw, int(K), col.data(), int(nt), beta,
            yb + r0 * g.Wo, int(N));
    }
  }
  return y;
}

}  // namespace fastvideo::ops::cpu
