#include "ops/elementwise.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace fastvideo::ops::cpu {

namespace {

constexpr int64_t kGrain = 1 << 14;

template <class Fn>
Tensor unary(const Tensor& x, Fn fn) {
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  const float* in = xc.f32().data();
  float* out = y.data<float>();
  parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = fn(in[i]);
  });
  return y;
}

template <class Fn>
Tensor binary(const Tensor& a, const Tensor& b, const char* name, Fn fn) {
  FV_CHECK(a.shape() == b.shape(), name, ": shapes differ: ", a.describe(), " and ", b.describe());
  Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor y = Tensor::empty(a.shape(), DType::F32);
  const float* pa = ac.f32().data();
  const float* pb = bc.f32().data();
  float* out = y.data<float>();
  parallel_for(a.numel(), kGrain, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) out[i] = fn(pa[i], pb[i]);
  });
  return y;
}

// x [B,S,D] with two [B,D] vectors: out[b,s,d] = fn(x, u[b,d], v[b,d]).
template <class Fn>
Tensor token_broadcast(const Tensor& x, const Tensor& u, const Tensor& v, const char* name, Fn fn) {
  FV_CHECK(x.ndim() == 3, name, ": expected x [B,S,D], got ", x.describe());
  const int64_t B = x.size(0), S = x.size(1), D = x.size(2);
  const int64_t expected[] = {B, D};
  check_shape(u, expected, std::string(name) + " vector");
  check_shape(v, expected, std::string(name) + " vector");
  Tensor xc = x.contiguous(), uc = u.contiguous(), vc = v.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  const float* px = xc.f32().data();
  const float* pu = uc.f32().data();
  const float* pv = vc.f32().data();
  float* out = y.data<float>();
  parallel_for(B * S, std::max<int64_t>(1, kGrain / std::max<int64_t>(D, 1)),
               [&](int64_t s, int64_t e) {
                 for (int64_t r = s; r < e; ++r) {
                   const int64_t b = r / S;
                   for (int64_t d = 0; d < D; ++d) {
                     out[r * D + d] = fn(px[r * D + d], pu[b * D + d], pv[b * D + d]);
                   }
                 }
               });
  return y;
}

float gelu_tanh_of(float v) {
  const float k = 0.7978845608028654f;  // √(2/π)
  return 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary(a, b, "add", [](float x, float y) { return x + y; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(a, b, "mul", [](float x, float y) { return x * y; });
}
Tensor scale(const Tensor& a, float s) {
  return unary(a, [s](float x) { return x * s; });
}
Tensor silu(const Tensor& x) {
  return unary(x, [](float v) { return v / (1.0f + std::exp(-v)); });
}
Tensor clamp(const Tensor& x, float lo, float hi) {
  return unary(x, [lo, hi](float v) { return std::clamp(v, lo, hi); });
}
Tensor gelu_tanh(const Tensor& x) { return unary(x, gelu_tanh_of); }

Tensor gelu_tanh_gate(const Tensor& x) {
  const int64_t F = x.size(-1) / 2, rows = F ? x.numel() / (2 * F) : 0;
  Shape shape = x.shape();
  shape.back() = F;
  Tensor xc = x.to(DType::F32).contiguous();
  Tensor y = Tensor::empty(shape, DType::F32);
  const float* px = xc.f32().data();
  float* py = y.data<float>();
  parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(F, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t r = b; r < e; ++r)
                   for (int64_t c = 0; c < F; ++c)
                     py[r * F + c] = gelu_tanh_of(px[r * 2 * F + c]) * px[r * 2 * F + F + c];
               });
  return y;
}

Tensor modulate(const Tensor& x, const Tensor& shift, const Tensor& scale) {
  return token_broadcast(x, shift, scale, "modulate",
                         [](float v, float sh, float sc) { return v * (1.0f + sc) + sh; });
}

Tensor gated_residual(const Tensor& x, const Tensor& y, const Tensor& gate) {
  FV_CHECK(x.shape() == y.shape(), "gated_residual: ", x.describe(), " vs ", y.describe());
  // Reuse the broadcast kernel with y folded into x's slot: x + y·g.
  Tensor sum = Tensor::empty(x.shape(), DType::F32);
  Tensor xc = x.contiguous(), yc = y.contiguous(), gc = gate.contiguous();
  const int64_t B = x.size(0), S = x.size(1), D = x.size(2);
  const int64_t expected[] = {B, D};
  check_shape(gate, expected, "gated_residual gate");
  const float* px = xc.f32().data();
  const float* py = yc.f32().data();
  const float* pg = gc.f32().data();
  float* out = sum.data<float>();
  parallel_for(B * S, std::max<int64_t>(1, kGrain / std::max<int64_t>(D, 1)),
               [&](int64_t s, int64_t e) {
                 for (int64_t r = s; r < e; ++r) {
                   const float* g = pg + (r / S) * D;
                   for (int64_t d = 0; d < D; ++d)
                     out[r * D + d] = px[r * D + d] + py[r * D + d] * g[d];
                 }
               });
  return sum;
}

bool all_finite(const Tensor& t) {
  Tensor c = t.to(DType::F32).contiguous();
  for (float v : c.f32()) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

}  // namespace fastvideo::ops::cpu
