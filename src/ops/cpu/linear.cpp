#include "ops/linear.h"

#include "ops/cpu/sgemm.h"
#include "ops/elementwise.h"

namespace fastvideo::ops::cpu {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  FV_CHECK(weight.ndim() == 2, "linear: weight must be 2-D, got ", weight.describe());
  const int64_t in = weight.size(1), out = weight.size(0);
  FV_CHECK(x.ndim() >= 1 && x.size(-1) == in, "linear: input ", x.describe(),
           " does not match weight ", weight.describe());
  Tensor xc = x.contiguous();
  Tensor wc = weight.contiguous();
  const int64_t rows = x.numel() / in;
  Shape out_shape = x.shape();
  out_shape.back() = out;
  Tensor y = Tensor::empty(out_shape, DType::F32);
  float* yp = y.data<float>();
  float beta = 0.0f;
  if (bias.defined()) {
    check_shape(bias, std::array<int64_t, 1>{out}, "linear bias");
    const float* bp = bias.contiguous().data<float>();
    for (int64_t r = 0; r < rows; ++r) std::copy(bp, bp + out, yp + r * out);
    beta = 1.0f;
  }
  if (rows == 0) return y;
  sgemm(false, true, int(rows), int(out), int(in), 1.0f, xc.f32().data(), int(in), wc.f32().data(),
        int(in), beta, yp, int(out));
  return y;
}

Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return gelu_tanh(linear(x, weight, bias));
}

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b) {
  FV_CHECK(a.ndim() == 2 && b.ndim() == 2, "matmul: expected 2-D operands, got ", a.describe(),
           " and ", b.describe());
  const int64_t m = a.size(0), k = a.size(1);
  const int64_t n = transpose_b ? b.size(0) : b.size(1);
  const int64_t kb = transpose_b ? b.size(1) : b.size(0);
  FV_CHECK(k == kb, "matmul: inner dimensions differ: ", a.describe(), " and ", b.describe(),
           transpose_b ? " (transposed)" : "");
  Tensor ac = a.contiguous(), bc = b.contiguous();
  Tensor c = Tensor::empty({m, n}, DType::F32);
  if (m && n) {
    sgemm(false, transpose_b, int(m), int(n), int(k), 1.0f, ac.f32().data(), int(k),
          bc.f32().data(), int(bc.size(1)), 0.0f, c.data<float>(), int(n));
  }
  return c;
}

}  // namespace fastvideo::ops::cpu
