#include "pipeline/stages/prepare_latents_stage.h"

#include "core/torch_random.h"

namespace fastvideo {

PrepareLatentsStage::PrepareLatentsStage(const WanGeometry& geometry, Device device)
    : geometry_(geometry), device_(device) {}

void PrepareLatentsStage::run(RequestState& state) {
  const ResolvedRequest& r = state.resolved;
  const Shape shape = geometry_.latent_shape(r.num_frames, r.height, r.width);
  const std::vector<float>& given = state.request.initial_latents;
  Tensor latents;
  if (given.empty()) {
    latents = torch_randn(shape, r.seed);
  } else {
    FV_CHECK(int64_t(given.size()) == shape_numel(shape), "initial_latents has ", given.size(),
             " values; the request needs ", shape_str(shape));
    latents = Tensor::from_vector(given, shape);
  }
  state.latents = latents.to(device_);
}

}  // namespace fastvideo
