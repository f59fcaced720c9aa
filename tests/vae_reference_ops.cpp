#include "vae_reference_ops.h"

#include <algorithm>
#include <cmath>

#include "ops/conv.h"

namespace fastvideo::testing {

Tensor rms_norm_channels(const Tensor& x, const Tensor& gamma) {
  FV_CHECK(x.ndim() >= 2, "rms_norm_channels: expected [B,C,...], got ", x.describe());
  const int64_t B = x.size(0), C = x.size(1);
  const int64_t S = C == 0 || B == 0 ? 0 : x.numel() / (B * C);  // positions per channel
  FV_CHECK(gamma.numel() == C, "rms_norm_channels: gamma ", gamma.describe(), " has ",
           gamma.numel(), " elements, expected ", C, " (channels of ", x.describe(), ")");
  const Tensor xc = x.contiguous(), gc = gamma.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  if (y.numel() == 0) return y;
  const float* px = xc.f32().data();
  const float* pg = gc.f32().data();
  float* py = y.data<float>();
  const double sqrt_c = std::sqrt(double(C));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s) {
      const float* xs = px + b * C * S + s;  // channel c at xs[c * S]
      double ss = 0;
      for (int64_t c = 0; c < C; ++c) ss += double(xs[c * S]) * xs[c * S];
      const double k = sqrt_c / std::max(std::sqrt(ss), 1e-12);
      for (int64_t c = 0; c < C; ++c) py[b * C * S + s + c * S] = float(xs[c * S] * k * pg[c]);
    }
  return y;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_h,
              int64_t pad_w) {
  FV_CHECK(x.ndim() == 4, "conv2d: expected input [B,C,H,W], got ", x.describe());
  FV_CHECK(weight.ndim() == 4, "conv2d: expected weight [O,C,kh,kw], got ", weight.describe());
  // An image is a one-frame video and a 2-D kernel a 3-D kernel of depth 1.
  const Tensor y = ops::conv3d(x.unsqueeze(2), weight.unsqueeze(2), bias, {0, 0, pad_h, pad_w});
  return y.reshape({y.size(0), y.size(1), y.size(3), y.size(4)});
}

Tensor upsample_nearest2x(const Tensor& x) {
  FV_CHECK(x.ndim() >= 2, "upsample_nearest2x: expected [..., H, W], got ", x.describe());
  const int64_t H = x.size(-2), W = x.size(-1);
  const int64_t planes = H * W == 0 ? 0 : x.numel() / (H * W);
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 2] = 2 * H;
  out_shape.back() = 2 * W;
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(out_shape, DType::F32);
  if (y.numel() == 0) return y;
  const float* px = xc.f32().data();
  float* py = y.data<float>();
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t h = 0; h < 2 * H; ++h)
      for (int64_t w = 0; w < 2 * W; ++w)
        py[(p * 2 * H + h) * 2 * W + w] = px[(p * H + h / 2) * W + w / 2];
  return y;
}

}  // namespace fastvideo::testing
