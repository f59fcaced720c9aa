#include "pipeline/stages/prepare_latents_stage.h"

#include "pipeline/latent_noise.h"

namespace fastvideo {

PrepareLatentsStage::PrepareLatentsStage(const WanGeometry& geometry, Device device,
                                         WanPipelineKind pipeline)
    : geometry_(geometry), device_(device), pipeline_(pipeline) {}

void PrepareLatentsStage::run(RequestState& state) {
  const ResolvedRequest& r = state.resolved;
  const Shape shape = geometry_.latent_shape(r.num_frames, r.height, r.width);
  const std::vector<float>& given = state.request.initial_latents;
  // Given latents leave the stream untouched, as FastVideo's pre-initialized latents do.
  state.generator.emplace(r.seed);
  Tensor latents;
  if (given.empty()) {
    latents = draw_latent_noise(*state.generator, shape, pipeline_);
  } else {  // size and values checked by resolve_request
    latents = Tensor::from_vector(given, shape);
  }
  state.latents = latents.to(device_);
}

}  // namespace fastvideo
