// Device dispatch for src/ops/patchify.h: CPU twin or CUDA kernel by the input's device.
#include "ops/patchify.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor patchify(const Tensor& x, std::array<int, 3> patch) {
  return FV_DISPATCH(x.device(), patchify(x, patch));
}

Tensor unpatchify(const Tensor& y, std::array<int64_t, 3> grid, std::array<int, 3> patch) {
  return FV_DISPATCH(y.device(), unpatchify(y, grid, patch));
}

}  // namespace fastvideo::ops
