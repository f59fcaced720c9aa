// The FP8 FFN's up projection on Hopper in one kernel (fp8_gelu_groups_hopper.cu): the GEMM of
// row-quantized E4M3 operands, its scales, bias and GELU, and the result quantized in 128-wide
// groups for the block-scaled down projection, straight from the accumulators
// (ops/fp8_linear.h, fp8_linear_gelu_groups).
#pragma once

#include "core/tensor.h"
#include "ops/fp8_linear.h"

namespace fastvideo::ops::cuda {

// Whether the kernel serves x [rows, in] · W [out, in]ᵀ on this device: an sm_90 GPU with the
// kernel built for it, in a multiple of 128 and out of 256.
bool hopper_fp8_gelu_groups_applies(const Device& device, int64_t in, int64_t out);

// out.values [padded, out] and out.scales [out / 128, padded] (padded: rows rounded up to 16)
// from x (values [rows, in], scales [rows]), weight (values [out, in], scales [out]) and bias
// ([out] BF16, or undefined): rows past `rows` are zeros with scale 1.
void hopper_fp8_gelu_groups(const Fp8Rows& x, const Fp8Rows& weight, const Tensor& bias,
                            const Fp8Groups& out);

}  // namespace fastvideo::ops::cuda
