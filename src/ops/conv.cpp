// Device dispatch for src/ops/conv.h: CPU twin or CUDA kernel by the input's device.
#include "ops/conv.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dPadding& padding) {
  return FV_DISPATCH(x.device(), conv3d(x, weight, bias, padding));
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_h,
              int64_t pad_w) {
  return FV_DISPATCH(x.device(), conv2d(x, weight, bias, pad_h, pad_w));
}

Tensor upsample_nearest2x(const Tensor& x) {
  return FV_DISPATCH(x.device(), upsample_nearest2x(x));
}

}  // namespace fastvideo::ops
