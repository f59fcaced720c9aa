#include "ops/patchify.h"

#include "core/parallel.h"

namespace fastvideo::ops::cpu {

Tensor patchify(const Tensor& x, std::array<int, 3> patch) {
  FV_CHECK(x.ndim() == 5, "patchify: expected x [B,C,T,H,W], got ", x.describe());
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
  const int64_t pt = patch[0], ph = patch[1], pw = patch[2];
  FV_CHECK(pt > 0 && ph > 0 && pw > 0 && T % pt == 0 && H % ph == 0 && W % pw == 0,
           "patchify: ", x.describe(), " is not divisible into patches [", pt, ",", ph, ",", pw,
           "]");
  const int64_t Tp = T / pt, Hp = H / ph, Wp = W / pw, S = Tp * Hp * Wp;
  const int64_t K = C * pt * ph * pw;
  Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({B, S, K}, DType::F32);
  const float* in = xc.f32().data();
  float* out = y.data<float>();
  parallel_for(B * S, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / S, s = r % S;
      const int64_t f = s / (Hp * Wp), h = (s / Wp) % Hp, w = s % Wp;
      float* o = out + r * K;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t kt = 0; kt < pt; ++kt)
          for (int64_t kh = 0; kh < ph; ++kh)
            for (int64_t kw = 0; kw < pw; ++kw) {
              *o++ = in[(((b * C + c) * T + f * pt + kt) * H + h * ph + kh) * W + w * pw + kw];
            }
    }
  });
  return y;
}

Tensor unpatchify(const Tensor& y, std::array<int64_t, 3> grid, std::array<int, 3> patch) {
  const int64_t pt = patch[0], ph = patch[1], pw = patch[2], volume = pt * ph * pw;
  const int64_t Tp = grid[0], Hp = grid[1], Wp = grid[2], S = Tp * Hp * Wp;
  FV_CHECK(y.ndim() == 3 && y.size(1) == S && volume > 0 && y.size(2) % volume == 0,
           "unpatchify: expected y [B, ", S, ", C·", volume, "] for grid [", Tp, ",", Hp, ",", Wp,
           "], got ", y.describe());
  const int64_t B = y.size(0), K = y.size(2), C = K / volume;
  const int64_t T = Tp * pt, H = Hp * ph, W = Wp * pw;
  Tensor yc = y.contiguous();
  Tensor x = Tensor::empty({B, C, T, H, W}, DType::F32);
  const float* in = yc.f32().data();
  float* out = x.data<float>();
  parallel_for(B * S, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / S, s = r % S;
      const int64_t f = s / (Hp * Wp), h = (s / Wp) % Hp, w = s % Wp;
      const float* v = in + r * K;
      for (int64_t kt = 0; kt < pt; ++kt)
        for (int64_t kh = 0; kh < ph; ++kh)
          for (int64_t kw = 0; kw < pw; ++kw)
            for (int64_t c = 0; c < C; ++c) {
              out[(((b * C + c) * T + f * pt + kt) * H + h * ph + kh) * W + w * pw + kw] = *v++;
            }
    }
  });
  return x;
}

}  // namespace fastvideo::ops::cpu
