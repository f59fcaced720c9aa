// FP8 linears (FastVideo's transformer_quant FP8, issue 11): a weight in E4M3 with one scale per
// output channel, quantized once at load; the input quantized per token (row) with a dynamic
// scale at each call; the product accumulated in f32 and scaled back:
//   y[t, o] = act((Σ_k qx[t, k]·qw[o, k]) · sx[t] · sw[o] + b[o]).
// Quantizing a row r: s = max_k |r[k]| / 448 (1 for an all-zero row), q[k] = e4m3(r[k] / s), the
// division in f32 and e4m3 rounding to nearest even with saturation (core/dtype.h). CPU: the same
// quantization, then the dequantized values through f32 sgemm (the twin). CUDA: a quantizing
// kernel and cuBLASLt's FP8 GEMM with outer-vector scales and a bf16 output, bias and GELU in its
// epilogue.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops {

// Rows quantized to E4M3: values F8E4M3 with the input's shape, scales F32 [rows] (the product
// of the leading dims), on the input's device.
struct Fp8Rows {
  Tensor values, scales;
};

// x [..., K] (F32, BF16 or F16; on a GPU BF16, K a multiple of 16).
Fp8Rows quantize_rows_fp8(const Tensor& x);

// act(x·Wᵀ + b) with W = weight (rows quantized: [out, in] values, [out] scales) and x quantized
// per row here. x [..., in] in the model's activation dtype (F32 on the CPU, BF16 on a GPU, where
// in and out must be multiples of 16), bias [out] or undefined -> [..., out] in x's dtype.
Tensor fp8_linear(const Tensor& x, const Fp8Rows& weight, const Tensor& bias, bool gelu = false);
// The same on rows already quantized (quantize_rows_fp8, or a producer that quantizes as it
// writes: norm_fp8.h), so one input feeds several linears with one quantization: x.values
// [..., in] -> [..., out] in `out` (the activation dtype: F32 on the CPU, BF16 on a GPU).
Tensor fp8_linear(const Fp8Rows& x, DType out, const Fp8Rows& weight, const Tensor& bias,
                  bool gelu = false);

// FP8 with 128-wide scales (DeepSeek-V3's recipe; cuBLASLt's VEC128 × BLK128x128 scaling on
// Hopper, where the 1.3B FFN's down projection ran 15 % faster than with row scales, docs/perf.md
// session 46): a weight [out, in] quantized once in 128×128 blocks, the input per row in groups
// of 128 columns at each call, each block or group quantized as a row is above:
//   y[t, o] = act(Σ_g (Σ_{k in g} qx[t, k]·qw[o, k]) · sx[g, t] · sw[o / 128, g] + b[o]).
// The scales are laid out as cuBLASLt reads them: the input's group-major, F32 [in / 128, rows];
// the weight's F32 [out / 128, in / 128 rounded up to a multiple of 4] (the padding unused).
struct Fp8Groups {
  Tensor values, scales;
};
struct Fp8Blocks {
  Tensor values, scales;
};
// Columns of a block-scaled weight's scales for `in` input features: in / 128 rounded up to a
// multiple of 4 (cuBLASLt's stride rule).
constexpr int64_t fp8_block_scale_columns(int64_t in) { return (in / 128 + 3) / 4 * 4; }

// Whether fp8_block_linear serves a weight [out, in] on this device: out and in multiples of 128,
// on the CPU (the twin) or a Hopper GPU (sm_90; cuBLASLt has these scales nowhere else).
bool fp8_blocks_supported(const Device& device, int64_t out, int64_t in);
// w [out, in] (F32 on the CPU, BF16 on a GPU; out and in multiples of 128).
Fp8Blocks quantize_blocks_fp8(const Tensor& w);
// x [..., K] (F32 on the CPU, BF16 on a GPU; K a multiple of 128) -> values [..., K], scales
// [K / 128, rows].
Fp8Groups quantize_groups_fp8(const Tensor& x);
// act(x·Wᵀ + b) as above: x [..., in] in the activation dtype (F32 on the CPU, BF16 on a GPU),
// bias [out] or undefined -> [..., out] in x's dtype.
Tensor fp8_block_linear(const Tensor& x, const Fp8Blocks& weight, const Tensor& bias,
                        bool gelu = false);

// The FFN's two FP8 linears joined (issue 11: an activation quantized by its producer): the up
// projection gelu(x·Wᵀ + b), x and W row-quantized as fp8_linear takes them, quantized in 128-wide
// groups for fp8_block_linear below without the activation tensor between. Its value is what
// fp8_linear (gelu) then quantize_groups_fp8 give, up to the sum's order; on a Hopper GPU one
// kernel makes it from the GEMM's accumulators (cuda/fp8_gelu_groups_hopper.cu). The result's rows
// are padded as fp8_block_linear's GEMM wants them: values [padded, out], scales [out / 128,
// padded], padded = rows on the CPU and rows rounded up to 16 on a GPU, the padding zeros with
// scale 1. out must be a multiple of 128.
Fp8Groups fp8_linear_gelu_groups(const Fp8Rows& x, const Fp8Rows& weight, const Tensor& bias);
// fp8_block_linear on an input already quantized in groups, as fp8_linear_gelu_groups gives it:
// its first `rows` rows -> [rows, out] in the activation dtype.
Tensor fp8_block_linear(const Fp8Groups& x, int64_t rows, const Fp8Blocks& weight,
                        const Tensor& bias);

namespace cpu {
Fp8Groups fp8_linear_gelu_groups(const Fp8Rows& x, const Fp8Rows& weight, const Tensor& bias);
Tensor fp8_block_linear(const Fp8Groups& x, int64_t rows, const Fp8Blocks& weight,
                        const Tensor& bias);
Fp8Blocks quantize_blocks_fp8(const Tensor& w);
Fp8Groups quantize_groups_fp8(const Tensor& x);
Tensor fp8_block_linear(const Tensor& x, const Fp8Blocks& weight, const Tensor& bias, bool gelu);
Fp8Rows quantize_rows_fp8(const Tensor& x);
Tensor fp8_linear(const Fp8Rows& x, DType out, const Fp8Rows& weight, const Tensor& bias,
                  bool gelu);
}  // namespace cpu
namespace cuda {
Fp8Groups fp8_linear_gelu_groups(const Fp8Rows& x, const Fp8Rows& weight, const Tensor& bias);
Tensor fp8_block_linear(const Fp8Groups& x, int64_t rows, const Fp8Blocks& weight,
                        const Tensor& bias);
bool fp8_blocks_supported(const Device& device);
Fp8Blocks quantize_blocks_fp8(const Tensor& w);
Fp8Groups quantize_groups_fp8(const Tensor& x);
Tensor fp8_block_linear(const Tensor& x, const Fp8Blocks& weight, const Tensor& bias, bool gelu);
Fp8Rows quantize_rows_fp8(const Tensor& x);
Tensor fp8_linear(const Fp8Rows& x, DType out, const Fp8Rows& weight, const Tensor& bias,
                  bool gelu);
}  // namespace cuda

}  // namespace fastvideo::ops
