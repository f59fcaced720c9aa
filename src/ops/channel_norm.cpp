// Device dispatch for src/ops/channel_norm.h: CPU twin or CUDA kernel by the input's device.
#include "ops/channel_norm.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor rms_norm_channels(const Tensor& x, const Tensor& gamma) {
  return FV_DISPATCH(x.device(), rms_norm_channels(x, gamma));
}

Tensor rms_norm_channels_silu(const Tensor& x, const Tensor& gamma) {
  return FV_DISPATCH(x.device(), rms_norm_channels_silu(x, gamma));
}

}  // namespace fastvideo::ops
