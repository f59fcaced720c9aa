#include "ops/channel_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/elementwise.h"

namespace fastvideo::ops::cpu {

Tensor rms_norm_channels(const Tensor& x, const Tensor& gamma) {
  FV_CHECK(x.ndim() >= 2, "rms_norm_channels: expected [B,C,...], got ", x.describe());
  const int64_t B = x.size(0), C = x.size(1);
  const int64_t S = C == 0 || B == 0 ? 0 : x.numel() / (B * C);  // positions per channel
  FV_CHECK(gamma.numel() == C, "rms_norm_channels: gamma ", gamma.describe(), " has ",
           gamma.numel(), " elements, expected ", C, " (channels of ", x.describe(), ")");
  Tensor xc = x.contiguous(), gc = gamma.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  if (y.numel() == 0) return y;
  const float* px = xc.f32().data();
  const float* pg = gc.f32().data();
  float* py = y.data<float>();
  const double sqrt_c = std::sqrt(double(C));
  // Channels are strided by S; each task takes a run of contiguous positions of one batch item.
  constexpr int64_t kSpan = 256;
  const int64_t spans = (S + kSpan - 1) / kSpan;
  parallel_for(B * spans, 1, [&](int64_t t0, int64_t t1) {
    std::vector<double> ss(kSpan);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / spans, s0 = (t % spans) * kSpan, n = std::min(kSpan, S - s0);
      const float* xb = px + b * C * S + s0;
      float* yb = py + b * C * S + s0;
      std::fill(ss.begin(), ss.begin() + n, 0.0);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < n; ++i) ss[i] += double(xb[c * S + i]) * xb[c * S + i];
      for (int64_t i = 0; i < n; ++i) ss[i] = sqrt_c / std::max(std::sqrt(ss[i]), 1e-12);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < n; ++i) yb[c * S + i] = float(xb[c * S + i] * ss[i] * pg[c]);
    }
  });
  return y;
}

Tensor rms_norm_channels_silu(const Tensor& x, const Tensor& gamma) {
  return silu(rms_norm_channels(x, gamma));
}

}  // namespace fastvideo::ops::cpu
