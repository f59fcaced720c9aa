// Device dispatch for src/ops/embedding.h: CPU twin or CUDA kernel by the input's device.
#include "ops/embedding.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor embedding(const Tensor& table, std::span<const int32_t> ids) {
  return FV_DISPATCH(table.device(), embedding(table, ids));
}

}  // namespace fastvideo::ops
