// CPU twins of src/ops/channels_last.h. The convolution is conv3d's on the channels-first view
// (the same sums in the same order); the norm sums each row's squares in double.
#include "ops/channels_last.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "ops/elementwise.h"

namespace fastvideo::ops::cpu {

Tensor conv3d_ndhwc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Conv3dPadding& padding) {
  FV_CHECK(x.ndim() == 5 && weight.ndim() == 5,
           "conv3d_ndhwc: expected x [B,T,H,W,C] and weight "
           "[O,kt,kh,kw,C], got ",
           x.describe(), " and ", weight.describe());
  const Tensor y =
      cpu::conv3d(x.permute({0, 4, 1, 2, 3}), weight.permute({0, 4, 1, 2, 3}), bias, padding);
  return y.permute({0, 2, 3, 4, 1}).contiguous();
}

namespace {

// A per-channel vector of C elements (gamma, a bias) as contiguous F32.
Tensor channel_vector(const Tensor& t, const Tensor& x, int64_t C, const char* op,
                      const char* what) {
  FV_CHECK(t.numel() == C, op, ": ", what, " ", t.describe(), " has ", t.numel(),
           " elements, expected ", C, " (the last dim of ", x.describe(), ")");
  return t.to(DType::F32).contiguous();
}

template <bool kSilu>
Tensor norm_rows(const Tensor& x, const Tensor& gamma, const Tensor& bias) {
  FV_CHECK(x.ndim() >= 1, "rms_norm_ndhwc: expected [..., C], got ", x.describe());
  const int64_t C = x.size(-1), rows = C == 0 ? 0 : x.numel() / C;
  const Tensor xc = x.contiguous(), gc = channel_vector(gamma, x, C, "rms_norm_ndhwc", "gamma");
  const Tensor bc =
      bias.defined() ? channel_vector(bias, x, C, "rms_norm_ndhwc", "bias") : Tensor();
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  if (y.numel() == 0) return y;
  const float* px = xc.f32().data();
  const float* pg = gc.f32().data();
  const float* pb = bc.defined() ? bc.f32().data() : nullptr;
  float* py = y.data<float>();
  const double sqrt_c = std::sqrt(double(C));
  parallel_for(rows, std::max<int64_t>(1, 4096 / C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* yr = py + r * C;  // x + bias first, as the convolution with its bias would give
      for (int64_t c = 0; c < C; ++c) yr[c] = px[r * C + c] + (pb ? pb[c] : 0.0f);
      double ss = 0;
      for (int64_t c = 0; c < C; ++c) ss += double(yr[c]) * yr[c];
      const double k = sqrt_c / std::max(std::sqrt(ss), 1e-12);
      for (int64_t c = 0; c < C; ++c) yr[c] = float(yr[c] * k * pg[c]);
    }
  });
  return kSilu ? cpu::silu(y) : y;
}

}  // namespace

Tensor rms_norm_ndhwc(const Tensor& x, const Tensor& gamma) {
  return norm_rows<false>(x, gamma, Tensor());
}

Tensor rms_norm_silu_ndhwc(const Tensor& x, const Tensor& gamma, const Tensor& bias) {
  return norm_rows<true>(x, gamma, bias);
}

Tensor add_bias_residual_ndhwc(const Tensor& x, const Tensor& bias, const Tensor& residual) {
  FV_CHECK(x.ndim() >= 1 && residual.shape() == x.shape() && residual.dtype() == x.dtype(),
           "add_bias_residual_ndhwc: residual ", residual.describe(), " does not match ",
           x.describe());
  const int64_t C = x.size(-1);
  const Tensor b = channel_vector(bias, x, C, "add_bias_residual_ndhwc", "bias");
  const Tensor xc = x.contiguous(), rc = residual.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  if (y.numel() == 0) return y;
  const float* px = xc.f32().data();
  const float* pr = rc.f32().data();
  const float* pb = b.f32().data();
  float* py = y.data<float>();
  parallel_for(y.numel() / C, std::max<int64_t>(1, 4096 / C), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0 * C; i < r1 * C; ++i) py[i] = px[i] + pb[i % C] + pr[i];
  });
  return y;
}

Tensor upsample_nearest2x_ndhwc(const Tensor& x) {
  FV_CHECK(x.ndim() == 5, "upsample_nearest2x_ndhwc: expected [B,T,H,W,C], got ", x.describe());
  const int64_t H = x.size(2), W = x.size(3), C = x.size(4);
  const int64_t frames = x.size(0) * x.size(1);
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty({x.size(0), x.size(1), 2 * H, 2 * W, C}, DType::F32);
  if (y.numel() == 0) return y;
  const float* px = xc.f32().data();
  float* py = y.data<float>();
  parallel_for(frames * H, std::max<int64_t>(1, 4096 / (W * C)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {  // input row r -> output rows 2r and 2r+1 of its frame
      const float* src = px + r * W * C;
      float* dst = py + r * 4 * W * C;
      for (int64_t w = 0; w < W; ++w) {
        std::memcpy(dst + 2 * w * C, src + w * C, size_t(C) * sizeof(float));
        std::memcpy(dst + (2 * w + 1) * C, src + w * C, size_t(C) * sizeof(float));
      }
      std::memcpy(dst + 2 * W * C, dst, size_t(2 * W * C) * sizeof(float));
    }
  });
  return y;
}

}  // namespace fastvideo::ops::cpu
