// Device dispatch for src/ops/conv.h: CPU twin or CUDA kernel by the input's device.
#include "ops/conv.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dPadding& padding) {
  return FV_DISPATCH(x.device(), conv3d(x, weight, bias, padding));
}

}  // namespace fastvideo::ops
