// Device dispatch for src/ops/fp8_linear.h, and the checks both backends share.
#include "ops/fp8_linear.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Fp8Rows quantize_rows_fp8(const Tensor& x) {
  FV_CHECK(x.ndim() >= 1 && is_float_dtype(x.dtype()),
           "quantize_rows_fp8: x must be a float tensor [..., K], got ", x.describe());
  return FV_DISPATCH(x.device(), quantize_rows_fp8(x));
}

namespace {

// The linears' activation dtype: f32 on the CPU, bf16 on a GPU.
DType activation_dtype(const Device& device) { return device.is_cpu() ? DType::F32 : DType::BF16; }

void check_weight(const Device& device, const Fp8Rows& weight, const Tensor& bias) {
  const Tensor& w = weight.values;
  FV_CHECK(w.ndim() == 2 && w.dtype() == DType::F8E4M3 && weight.scales.dtype() == DType::F32 &&
               weight.scales.shape() == Shape({w.size(0)}),
           "fp8_linear: the weight must be F8E4M3 [out, in] with F32 scales [out], got ",
           w.describe(), " and ", weight.scales.describe());
  FV_CHECK(w.device() == device && weight.scales.device() == device &&
               (!bias.defined() || bias.device() == device),
           "fp8_linear: weight ", w.describe(), ", scales and bias must be on ", device.name(),
           " with the input");
  FV_CHECK(!bias.defined() || bias.shape() == Shape({w.size(0)}), "fp8_linear: bias ",
           bias.describe(), " must be [", w.size(0), "]");
}

}  // namespace

Tensor fp8_linear(const Tensor& x, const Fp8Rows& weight, const Tensor& bias, bool gelu) {
  check_weight(x.device(), weight, bias);
  FV_CHECK(x.ndim() >= 1 && x.size(-1) == weight.values.size(1), "fp8_linear: input ", x.describe(),
           " does not match the weight ", weight.values.describe());
  const DType want = activation_dtype(x.device());
  FV_CHECK(x.dtype() == want, "fp8_linear on ", x.device().name(), " takes ", dtype_name(want),
           " input, got ", x.describe());
  return fp8_linear(quantize_rows_fp8(x), x.dtype(), weight, bias, gelu);
}

Tensor fp8_linear(const Fp8Rows& xq, DType out, const Fp8Rows& weight, const Tensor& bias,
                  bool gelu) {
  const Tensor& x = xq.values;
  const Tensor& w = weight.values;
  check_weight(x.device(), weight, bias);
  FV_CHECK(xq.scales.device() == x.device(), "fp8_linear: the input's scales ",
           xq.scales.describe(), " must be on ", x.device().name(), " with its values");
  FV_CHECK(x.ndim() >= 1 && x.dtype() == DType::F8E4M3 && x.size(-1) == w.size(1) &&
               xq.scales.dtype() == DType::F32 &&
               xq.scales.numel() == (x.size(-1) == 0 ? 0 : x.numel() / x.size(-1)),
           "fp8_linear: quantized input ", x.describe(), " with scales ", xq.scales.describe(),
           " does not match the weight ", w.describe());
  const DType want = activation_dtype(x.device());
  FV_CHECK(out == want, "fp8_linear on ", x.device().name(), " writes ", dtype_name(want), ", not ",
           dtype_name(out));
  return FV_DISPATCH(x.device(), fp8_linear(xq, out, weight, bias, gelu));
}

bool fp8_blocks_supported(const Device& device, int64_t out, int64_t in) {
  if (out % 128 != 0 || in % 128 != 0) return false;
  if (device.is_cpu()) return true;
#ifdef FASTVIDEO_HAVE_CUDA
  return cuda::fp8_blocks_supported(device);
#else
  return false;
#endif
}

Fp8Blocks quantize_blocks_fp8(const Tensor& w) {
  FV_CHECK(w.ndim() == 2 && w.dtype() == activation_dtype(w.device()) && w.size(0) % 128 == 0 &&
               w.size(1) % 128 == 0,
           "quantize_blocks_fp8: the weight must be ", dtype_name(activation_dtype(w.device())),
           " [out, in] with out and in multiples of 128, got ", w.describe());
  return FV_DISPATCH(w.device(), quantize_blocks_fp8(w));
}

Fp8Groups quantize_groups_fp8(const Tensor& x) {
  FV_CHECK(x.ndim() >= 1 && x.dtype() == activation_dtype(x.device()) && x.size(-1) % 128 == 0,
           "quantize_groups_fp8: x must be ", dtype_name(activation_dtype(x.device())),
           " [..., K] with K a multiple of 128, got ", x.describe());
  return FV_DISPATCH(x.device(), quantize_groups_fp8(x));
}

namespace {

// A block-scaled weight beside its bias, on `device`.
void check_blocks(const Device& device, const Fp8Blocks& weight, const Tensor& bias) {
  const Tensor& w = weight.values;
  FV_CHECK(
      w.ndim() == 2 && w.dtype() == DType::F8E4M3 && weight.scales.dtype() == DType::F32 &&
          w.size(0) % 128 == 0 && w.size(1) % 128 == 0 &&
          weight.scales.shape() == Shape({w.size(0) / 128, fp8_block_scale_columns(w.size(1))}),
      "fp8_block_linear: the weight must be F8E4M3 [out, in] (multiples of 128) with F32 "
      "scales [out / 128, in / 128 rounded up to a multiple of 4], got ",
      w.describe(), " and ", weight.scales.describe());
  FV_CHECK(w.device() == device && weight.scales.device() == device &&
               (!bias.defined() || bias.device() == device),
           "fp8_block_linear: weight ", w.describe(), ", scales and bias must be on ",
           device.name(), " with the input");
  FV_CHECK(!bias.defined() || bias.shape() == Shape({w.size(0)}), "fp8_block_linear: bias ",
           bias.describe(), " must be [", w.size(0), "]");
  FV_CHECK(fp8_blocks_supported(device, w.size(0), w.size(1)), "fp8_block_linear: ", device.name(),
           " has no GEMM with 128-wide FP8 scales (a Hopper GPU, sm_90, has)");
}

}  // namespace

Tensor fp8_block_linear(const Tensor& x, const Fp8Blocks& weight, const Tensor& bias, bool gelu) {
  const Tensor& w = weight.values;
  FV_CHECK(x.ndim() >= 1 && x.size(-1) == w.size(1) && x.dtype() == activation_dtype(x.device()),
           "fp8_block_linear: input ", x.describe(), " must be ",
           dtype_name(activation_dtype(x.device())), " [..., ", w.size(1), "] for the weight ",
           w.describe());
  check_blocks(x.device(), weight, bias);
  return FV_DISPATCH(x.device(), fp8_block_linear(x, weight, bias, gelu));
}

Fp8Groups fp8_linear_gelu_groups(const Fp8Rows& x, const Fp8Rows& weight, const Tensor& bias) {
  const Tensor& v = x.values;
  check_weight(v.device(), weight, bias);
  const int64_t in = weight.values.size(1), out = weight.values.size(0);
  FV_CHECK(v.ndim() >= 1 && v.dtype() == DType::F8E4M3 && v.size(-1) == in &&
               x.scales.dtype() == DType::F32 && x.scales.device() == v.device() &&
               x.scales.numel() == (in == 0 ? 0 : v.numel() / in),
           "fp8_linear_gelu_groups: quantized input ", v.describe(), " with scales ",
           x.scales.describe(), " does not match the weight ", weight.values.describe());
  FV_CHECK(out % 128 == 0, "fp8_linear_gelu_groups: ", out,
           " output features do not split into 128-wide groups (weight ", weight.values.describe(),
           ")");
  return FV_DISPATCH(v.device(), fp8_linear_gelu_groups(x, weight, bias));
}

Tensor fp8_block_linear(const Fp8Groups& x, int64_t rows, const Fp8Blocks& weight,
                        const Tensor& bias) {
  const Tensor& v = x.values;
  const int64_t in = weight.values.size(1);
  FV_CHECK(v.ndim() == 2 && v.dtype() == DType::F8E4M3 && v.size(1) == in && rows >= 0 &&
               rows <= v.size(0) && x.scales.dtype() == DType::F32 &&
               x.scales.shape() == Shape({in / 128, v.size(0)}),
           "fp8_block_linear: grouped input ", v.describe(), " with scales ", x.scales.describe(),
           " must be F8E4M3 [padded, ", in, "] with F32 scales [", in / 128,
           ", padded] and hold the ", rows, " rows asked for");
  check_blocks(v.device(), weight, bias);
  return FV_DISPATCH(v.device(), fp8_block_linear(x, rows, weight, bias));
}

}  // namespace fastvideo::ops
