#include "ops/norm.h"

#include <cmath>

#include "core/parallel.h"
#include "ops/elementwise.h"

namespace fastvideo::ops::cpu {

namespace {

const float* optional_vector(const Tensor& t, int64_t d, const char* what, Tensor& keep) {
  if (!t.defined()) return nullptr;
  const int64_t expected[] = {d};
  check_shape(t, expected, what);
  keep = t.contiguous();
  return keep.f32().data();
}

}  // namespace

Tensor layer_norm(const Tensor& x, float eps, const Tensor& weight, const Tensor& bias) {
  const int64_t d = x.size(-1), rows = x.numel() / std::max<int64_t>(d, 1);
  Tensor wk, bk, xc = x.contiguous();
  const float* w = optional_vector(weight, d, "layer_norm weight", wk);
  const float* b = optional_vector(bias, d, "layer_norm bias", bk);
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  const float* in = xc.f32().data();
  float* out = y.data<float>();
  parallel_for(rows, 16, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      const float* xr = in + r * d;
      double mean = 0, var = 0;
      for (int64_t i = 0; i < d; ++i) mean += xr[i];
      mean /= double(d);
      for (int64_t i = 0; i < d; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= double(d);
      const float inv = float(1.0 / std::sqrt(var + eps));
      float* yr = out + r * d;
      for (int64_t i = 0; i < d; ++i) {
        float v = (xr[i] - float(mean)) * inv;
        if (w) v *= w[i];
        if (b) v += b[i];
        yr[i] = v;
      }
    }
  });
  return y;
}

Tensor rms_norm(const Tensor& x, float eps, const Tensor& weight) {
  const int64_t d = x.size(-1), rows = x.numel() / std::max<int64_t>(d, 1);
  Tensor wk, xc = x.contiguous();
  const float* w = optional_vector(weight, d, "rms_norm weight", wk);
  Tensor y = Tensor::empty(x.shape(), DType::F32);
  const float* in = xc.f32().data();
  float* out = y.data<float>();
  parallel_for(rows, 16, [&](int64_t s, int64_t e) {
    for (int64_t r = s; r < e; ++r) {
      const float* xr = in + r * d;
      double ss = 0;
      for (int64_t i = 0; i < d; ++i) ss += double(xr[i]) * xr[i];
      const float inv = float(1.0 / std::sqrt(ss / double(d) + eps));
      float* yr = out + r * d;
      for (int64_t i = 0; i < d; ++i) yr[i] = w ? xr[i] * inv * w[i] : xr[i] * inv;
    }
  });
  return y;
}

// The CUDA backend fuses these; the CPU twin is the composition it must match.
Tensor layer_norm_modulate(const Tensor& x, float eps, const Tensor& shift, const Tensor& scale) {
  return modulate(layer_norm(x, eps), shift, scale);
}

}  // namespace fastvideo::ops::cpu
