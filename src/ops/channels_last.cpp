// Device dispatch for src/ops/channels_last.h: CPU twin or CUDA kernel by the input's device.
#include "ops/channels_last.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor conv3d_ndhwc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Conv3dPadding& padding) {
  return FV_DISPATCH(x.device(), conv3d_ndhwc(x, weight, bias, padding));
}

Tensor channels_last_weight(const Tensor& conv3d_weight) {
  FV_CHECK(conv3d_weight.ndim() == 5, "channels_last_weight: expected [O, C, kt, kh, kw], got ",
           conv3d_weight.describe());
  return conv3d_weight.permute({0, 2, 3, 4, 1}).contiguous();
}

Tensor pointwise_as_linear(const Tensor& conv_weight) {
  FV_CHECK(
      conv_weight.ndim() >= 2 && conv_weight.numel() == conv_weight.size(0) * conv_weight.size(1),
      "pointwise_as_linear: expected a 1x1 convolution's weight [O, C, 1, ...], got ",
      conv_weight.describe());
  return conv_weight.contiguous().reshape({conv_weight.size(0), conv_weight.size(1)});
}

Tensor rms_norm_ndhwc(const Tensor& x, const Tensor& gamma) {
  return FV_DISPATCH(x.device(), rms_norm_ndhwc(x, gamma));
}

Tensor rms_norm_silu_ndhwc(const Tensor& x, const Tensor& gamma, const Tensor& bias) {
  return FV_DISPATCH(x.device(), rms_norm_silu_ndhwc(x, gamma, bias));
}

Tensor add_bias_residual_ndhwc(const Tensor& x, const Tensor& bias, const Tensor& residual) {
  return FV_DISPATCH(x.device(), add_bias_residual_ndhwc(x, bias, residual));
}

Tensor upsample_nearest2x_ndhwc(const Tensor& x) {
  return FV_DISPATCH(x.device(), upsample_nearest2x_ndhwc(x));
}

}  // namespace fastvideo::ops
