// prepare_latents: the request's generator, torch.Generator("cpu").manual_seed(seed) (FastVideo's
// batch.generator, kept in the state for the DMD steps' noise), and the starting noise drawn from
// it with randn in float32 (wan21.md §4.1) in the pipeline's layout (pipeline/latent_noise.h), or
// the request's own latents; drawn on the host, copied once to the device, and kept f32 there.
#pragma once

#include "core/device.h"
#include "models/wan/wan_geometry.h"
#include "models/wan/wan_presets.h"
#include "pipeline/pipeline_stage.h"

namespace fastvideo {

class PrepareLatentsStage final : public PipelineStage {
 public:
  PrepareLatentsStage(const WanGeometry& geometry, Device device, WanPipelineKind pipeline);
  std::string_view name() const override { return "prepare_latents"; }
  void run(RequestState& state) override;

 private:
  const WanGeometry& geometry_;
  Device device_;
  WanPipelineKind pipeline_;
};

}  // namespace fastvideo
