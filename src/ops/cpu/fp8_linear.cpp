// The CPU twin of the FP8 linears (ops/fp8_linear.h): the same E4M3 quantization (per row, or in
// 128-wide groups and 128×128 blocks), then the dequantized operands through the f32 linear, so a
// CPU run shows what FP8 does to the output.
#include "ops/fp8_linear.h"

#include <algorithm>
#include <cmath>

#include "ops/elementwise.h"
#include "ops/linear.h"

namespace fastvideo::ops::cpu {

namespace {

// One scale for a patch of `rows` runs of `cols` values, `ld` apart: s = max |x| / 448 (1 when all
// zero), each value e4m3(x / s) at the same offset of `out`. A row, a group of a row or a block.
float quantize_patch(const float* in, uint8_t* out, int64_t rows, int64_t cols, int64_t ld) {
  float amax = 0.f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(in[r * ld + c]));
  const float s = amax > 0.f ? amax / kE4m3Max : 1.f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * ld + c] = f32_to_e4m3(in[r * ld + c] / s);
  return s;
}

// values · scale per row, as F32 of the values' shape.
Tensor dequantize(const Fp8Rows& rows) {
  Tensor out = rows.values.contiguous().to(DType::F32);
  const int64_t n = rows.scales.numel(), K = n == 0 ? 0 : out.numel() / n;
  float* o = out.data<float>();
  const Tensor scales = rows.scales.contiguous();
  const float* s = scales.data<float>();
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
  for (int64_t r = 0; r < rows; ++r)
    scales[r] = quantize_patch(in + r * K, values + r * K, 1, K, K);
  return q;
}

Fp8Groups quantize_groups_fp8(const Tensor& x) {
  const Tensor xf = x.contiguous();
  const int64_t K = x.size(-1), groups = K / 128, rows = K == 0 ? 0 : x.numel() / K;
  Fp8Groups q{Tensor::empty(x.shape(), DType::F8E4M3), Tensor::empty({groups, rows}, DType::F32)};
  const float* in = xf.data<float>();
  auto* values = static_cast<uint8_t*>(q.values.raw_data());
  float* scales = q.scales.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t at = r * K + g * 128;
      scales[g * rows + r] = quantize_patch(in + at, values + at, 1, 128, K);
    }
  }
  return q;
}

Fp8Blocks quantize_blocks_fp8(const Tensor& w) {
  const Tensor wf = w.contiguous();
  const int64_t out = w.size(0), in = w.size(1), padded = fp8_block_scale_columns(in);
  Fp8Blocks q{Tensor::empty(w.shape(), DType::F8E4M3),
              Tensor::zeros({out / 128, padded}, DType::F32)};
  const float* src = wf.data<float>();
  auto* values = static_cast<uint8_t*>(q.values.raw_data());
  float* scales = q.scales.data<float>();
  for (int64_t bo = 0; bo < out / 128; ++bo) {
    for (int64_t bi = 0; bi < in / 128; ++bi) {
      const int64_t at = bo * 128 * in + bi * 128;
      scales[bo * padded + bi] = quantize_patch(src + at, values + at, 128, 128, in);
    }
  }
  return q;
}

Tensor fp8_block_linear(const Fp8Groups& xq, int64_t rows, const Fp8Blocks& weight,
                        const Tensor& bias) {
  // Both operands dequantized: each value times its group's or block's scale.
  Tensor xd = xq.values.slice(0, 0, rows).contiguous().to(DType::F32);
  Tensor wd = weight.values.contiguous().to(DType::F32);
  const int64_t K = xd.size(1), ld = xq.scales.size(1), out = wd.size(0);
  const int64_t padded = weight.scales.size(1);
  float* xv = xd.data<float>();
  const Tensor x_scales = xq.scales.contiguous();
  const float* xs = x_scales.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; ++k) xv[r * K + k] *= xs[(k / 128) * ld + r];
  float* wv = wd.data<float>();
  const Tensor w_scales = weight.scales.contiguous();
  const float* ws = w_scales.data<float>();
  for (int64_t o = 0; o < out; ++o)
    for (int64_t k = 0; k < K; ++k) wv[o * K + k] *= ws[(o / 128) * padded + k / 128];
  return linear(xd, wd, bias);
}

Tensor fp8_block_linear(const Tensor& x, const Fp8Blocks& weight, const Tensor& bias, bool gelu) {
  const int64_t K = x.size(-1), rows = K == 0 ? 0 : x.numel() / K;
  Shape out_shape = x.shape();
  out_shape.back() = weight.values.size(0);
  const Tensor y =
      cpu::fp8_block_linear(cpu::quantize_groups_fp8(x.contiguous().reshape({rows, K})), rows,
                            weight, bias)
          .reshape(out_shape);
  return gelu ? gelu_tanh(y) : y;
}

Fp8Groups fp8_linear_gelu_groups(const Fp8Rows& x, const Fp8Rows& weight, const Tensor& bias) {
  const int64_t rows = x.scales.numel();
  const Tensor y = cpu::fp8_linear(x, DType::F32, weight, bias, /*gelu=*/true);
  return cpu::quantize_groups_fp8(y.reshape({rows, weight.values.size(0)}));
}

Tensor fp8_linear(const Fp8Rows& x, DType /*out: F32*/, const Fp8Rows& weight, const Tensor& bias,
                  bool gelu) {
  const Tensor y = linear(dequantize(x), dequantize(weight), bias);
  return gelu ? gelu_tanh(y) : y;
}

}  // namespace fastvideo::ops::cpu
