// Checks and device dispatch for src/ops/timestep_embedding.h.
#include "ops/timestep_embedding.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

Tensor timestep_embedding(std::span<const double> timesteps, int dim, Device device) {
  FV_CHECK(dim > 0 && dim % 2 == 0, "timestep_embedding: dim ", dim, " must be positive and even");
  return FV_DISPATCH(device, timestep_embedding(timesteps, dim, device));
}

}  // namespace fastvideo::ops
