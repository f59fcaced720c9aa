#include "ops/rope.h"

#include "core/parallel.h"
#include "ops/norm.h"

namespace fastvideo::ops::cpu {

Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  FV_CHECK(x.ndim() == 4 && x.size(3) % 2 == 0,
           "apply_rope: expected x [B,S,H,D] with even D, got ", x.describe());
  const int64_t B = x.size(0), S = x.size(1), H = x.size(2), D = x.size(3), P = D / 2;
  const int64_t expected[] = {S, P};
  check_shape(cos, expected, "apply_rope cos table");
  check_shape(sin, expected, "apply_rope sin table");
  Tensor xc = x.contiguous(), cc = cos.contiguous(), sc = sin.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  const float* px = xc.f32().data();
  const float* pc = cc.f32().data();
  const float* ps = sc.f32().data();
  float* out = y.data<float>();
  parallel_for(B * S, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* c = pc + (r % S) * P;
      const float* s = ps + (r % S) * P;
      for (int64_t h = 0; h < H; ++h) {
        const float* xi = px + (r * H + h) * D;
        float* yo = out + (r * H + h) * D;
        for (int64_t p = 0; p < P; ++p) {
          const float x0 = xi[2 * p], x1 = xi[2 * p + 1];
          yo[2 * p] = x0 * c[p] - x1 * s[p];
          yo[2 * p + 1] = x0 * s[p] + x1 * c[p];
        }
      }
    }
  });
  return y;
}

// The CUDA backend fuses these; the CPU twin is the composition it must match.
Tensor rms_norm_rope(const Tensor& x, float eps, const Tensor& weight, const Tensor& cos,
                     const Tensor& sin, int64_t heads) {
  FV_CHECK(x.ndim() == 3 && heads > 0 && x.size(2) % heads == 0,
           "rms_norm_rope: expected x [B,S,D] with D divisible by ", heads, " heads, got ",
           x.describe());
  Tensor y = rms_norm(x, eps, weight);
  return apply_rope(y.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}), cos, sin);
}

}  // namespace fastvideo::ops::cpu
