// The Wan VAE's channels-last layout: video activations [B, T, H, W, C], channels innermost, the
// layout cuDNN's fastest 3-D convolutions read natively (no transpose each way around every
// convolution, as channels-first [B, C, T, H, W] needs), where a frame is one contiguous block
// and a pixel's channels one contiguous row.
#pragma once

#include "core/tensor.h"
#include "ops/conv.h"

namespace fastvideo::ops {

// x [B, T, H, W, C], weight [O, kt, kh, kw, C] (channels-last: conv3d's [O, C, kt, kh, kw]
// permuted), bias [O] or undefined -> [B, T', H', W', O]; conv3d's padding and results.
Tensor conv3d_ndhwc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Conv3dPadding& padding = {});
// conv3d's weight [O, C, kt, kh, kw] as conv3d_ndhwc takes it (a contiguous copy).
Tensor channels_last_weight(const Tensor& conv3d_weight);
// A pointwise convolution's weight [O, C, 1, ...] (2-D or 3-D) as ops::linear's [O, C]: on
// channels-last data the convolution is that linear layer. A view of a contiguous weight.
Tensor pointwise_as_linear(const Tensor& conv_weight);

// The Wan VAE RMS_norm (wan21.md §2.2) over the last dim of x [..., C]:
// y = x / max(‖x‖₂, 1e-12) · √C · gamma[c] (gamma of C elements, any shape, e.g. [C,1,1,1] as
// stored); and silu of it in one pass, where `bias` [C] (optional) is first added to x: the bias
// of the convolution that made x, left out of it so that no pass of its own adds it.
Tensor rms_norm_ndhwc(const Tensor& x, const Tensor& gamma);
Tensor rms_norm_silu_ndhwc(const Tensor& x, const Tensor& gamma, const Tensor& bias = {});

// x + bias[c] + residual over x [..., C] in one pass (a residual block's last convolution, its
// bias and the shortcut).
Tensor add_bias_residual_ndhwc(const Tensor& x, const Tensor& bias, const Tensor& residual);

// Nearest-neighbour ×2 over H and W of x [B, T, H, W, C] -> [B, T, 2H, 2W, C].
Tensor upsample_nearest2x_ndhwc(const Tensor& x);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor conv3d_ndhwc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Conv3dPadding& padding);
Tensor rms_norm_ndhwc(const Tensor& x, const Tensor& gamma);
Tensor rms_norm_silu_ndhwc(const Tensor& x, const Tensor& gamma, const Tensor& bias);
Tensor add_bias_residual_ndhwc(const Tensor& x, const Tensor& bias, const Tensor& residual);
Tensor upsample_nearest2x_ndhwc(const Tensor& x);
}  // namespace cpu
namespace cuda {
Tensor conv3d_ndhwc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Conv3dPadding& padding);
Tensor rms_norm_ndhwc(const Tensor& x, const Tensor& gamma);
Tensor rms_norm_silu_ndhwc(const Tensor& x, const Tensor& gamma, const Tensor& bias);
Tensor add_bias_residual_ndhwc(const Tensor& x, const Tensor& bias, const Tensor& residual);
Tensor upsample_nearest2x_ndhwc(const Tensor& x);
}  // namespace cuda

}  // namespace fastvideo::ops
