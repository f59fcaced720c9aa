// Normalisation over the channel axis (dim 1) of channels-first tensors [B, C, ...].
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops {

// The Wan VAE RMS_norm (wan21.md §2.2): y = x / max(‖x‖₂ over C, 1e-12) · √C · gamma[c].
// gamma has C elements (any shape, e.g. [C,1,1,1] as stored). Statistics in double.
Tensor rms_norm_channels(const Tensor& x, const Tensor& gamma);
// silu(rms_norm_channels(x, gamma)) in one pass (the VAE's residual blocks), the norm not rounded
// to x's dtype before the SiLU.
Tensor rms_norm_channels_silu(const Tensor& x, const Tensor& gamma);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor rms_norm_channels(const Tensor& x, const Tensor& gamma);
Tensor rms_norm_channels_silu(const Tensor& x, const Tensor& gamma);
}  // namespace cpu
namespace cuda {
Tensor rms_norm_channels(const Tensor& x, const Tensor& gamma);
Tensor rms_norm_channels_silu(const Tensor& x, const Tensor& gamma);
}  // namespace cuda

}  // namespace fastvideo::ops
