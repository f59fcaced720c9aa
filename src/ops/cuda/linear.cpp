// ops::cuda::linear, linear_gelu and matmul: cuBLASLt GEMMs with bias and GELU in the epilogue.
// Mixed F32/BF16 operands run in the weight's dtype: the activation is converted on the device
// (wan21.md §1.2: temb is cast to bf16 before the bf16 time_proj).
#include "ops/linear.h"

#include <array>

#include "ops/cuda/cublaslt_gemm.h"

namespace fastvideo::ops::cuda {

namespace {

using cuda_detail::GemmActivation;

bool gemm_dtype(DType dtype) {
  return dtype == DType::F32 || dtype == DType::BF16 || dtype == DType::F16;
}

// t in `dtype`, contiguous: no copy when it already is.
Tensor as_operand(const Tensor& t, DType dtype) {
  return (t.dtype() == dtype ? t : t.to(dtype)).contiguous();
}

void check_operands(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  FV_CHECK(gemm_dtype(x.dtype()) && gemm_dtype(weight.dtype()), op, ": dtypes ",
           dtype_name(x.dtype()), " and ", dtype_name(weight.dtype()),
           " are not supported on CUDA (F32, BF16, F16)");
  FV_CHECK(weight.device() == x.device(), op, ": weight ", weight.describe(), " is not on ",
           x.device().name(), " with the input ", x.describe());
  FV_CHECK(!bias.defined() || (bias.device() == x.device() && gemm_dtype(bias.dtype())), op,
           ": bias ", bias.describe(), " must be F32/BF16/F16 on ", x.device().name());
}

Tensor linear_with(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                   GemmActivation activation) {
  FV_CHECK(weight.ndim() == 2, op, ": weight must be 2-D, got ", weight.describe());
  const int64_t in = weight.size(1), out = weight.size(0);
  FV_CHECK(x.ndim() >= 1 && x.size(-1) == in, op, ": input ", x.describe(),
           " does not match weight ", weight.describe());
  check_operands(op, x, weight, bias);
  if (bias.defined()) check_shape(bias, std::array<int64_t, 1>{out}, str_cat(op, " bias"));
  const DType dtype = weight.dtype();
  int64_t rows = 1;
  for (int i = 0; i + 1 < x.ndim(); ++i) rows *= x.size(i);
  Shape out_shape = x.shape();
  out_shape.back() = out;
  Tensor y = Tensor::empty(out_shape, dtype, x.device());
  cuda_detail::cublaslt_gemm(y.reshape({rows, out}), as_operand(x, dtype).reshape({rows, in}),
                             weight.contiguous(), /*transpose_b=*/true,
                             bias.defined() ? as_operand(bias, dtype) : Tensor(), activation);
  return y;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear_with("linear", x, weight, bias, GemmActivation::None);
}

Tensor linear_gelu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear_with("linear_gelu", x, weight, bias, GemmActivation::GeluTanh);
}

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_b) {
  FV_CHECK(a.ndim() == 2 && b.ndim() == 2, "matmul: expected 2-D operands, got ", a.describe(),
           " and ", b.describe());
  const int64_t m = a.size(0), k = a.size(1);
  const int64_t n = transpose_b ? b.size(0) : b.size(1);
  const int64_t kb = transpose_b ? b.size(1) : b.size(0);
  FV_CHECK(k == kb, "matmul: inner dimensions differ: ", a.describe(), " and ", b.describe(),
           transpose_b ? " (transposed)" : "");
  check_operands("matmul", a, b, Tensor());
  const DType dtype = b.dtype();
  Tensor c = Tensor::empty({m, n}, dtype, a.device());
  cuda_detail::cublaslt_gemm(c, as_operand(a, dtype), b.contiguous(), transpose_b, Tensor(),
                             GemmActivation::None);
  return c;
}

}  // namespace fastvideo::ops::cuda
