// The CPU twin of the FP8 linear (ops/fp8_linear.h): the same per-row E4M3 quantization, then the
// dequantized operands through the f32 linear, so a CPU run shows what FP8 does to the output.
#include "ops/fp8_linear.h"

#include <algorithm>
#include <cmath>

#include "ops/elementwise.h"
#include "ops/linear.h"

namespace fastvideo::ops::cpu {

namespace {

// values · scale per row, as F32 of the values' shape.
Tensor dequantize(const Fp8Rows& rows) {
  Tensor out = rows.values.contiguous().to(DType::F32);
  const int64_t n = rows.scales.numel(), K = n == 0 ? 0 : out.numel() / n;
  float* o = out.data<float>();
  const float* s = rows.scales.contiguous().data<float>();
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < K; ++k) o[r * K + k] *= s[r];
  return out;
}

}  // namespace

Fp8Rows quantize_rows_fp8(const Tensor& x) {
  const Tensor xf = x.contiguous().to(DType::F32);
  const int64_t K = x.size(-1), rows = K == 0 ? 0 : x.numel() / K;
  Fp8Rows q{Tensor::empty(x.shape(), DType::F8E4M3), Tensor::empty({rows}, DType::F32)};
  const float* in = xf.data<float>();
  uint8_t* values = static_cast<uint8_t*>(q.values.raw_data());
  float* scales = q.scales.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0.f;
    for (int64_t k = 0; k < K; ++k) amax = std::max(amax, std::fabs(in[r * K + k]));
    const float s = amax > 0.f ? amax / kE4m3Max : 1.f;
    scales[r] = s;
    for (int64_t k = 0; k < K; ++k) values[r * K + k] = f32_to_e4m3(in[r * K + k] / s);
  }
  return q;
}

Tensor fp8_linear(const Fp8Rows& x, DType /*out: F32*/, const Fp8Rows& weight, const Tensor& bias,
                  bool gelu) {
  const Tensor y = linear(dequantize(x), dequantize(weight), bias);
  return gelu ? gelu_tanh(y) : y;
}

}  // namespace fastvideo::ops::cpu
