// prepare_latents: the starting noise, exactly torch.Generator("cpu").manual_seed(seed) + randn in
// float32 (wan21.md §4.1), or the request's own latents; drawn on the host, copied once to the
// device, and kept f32 there.
#pragma once

#include "core/device.h"
#include "models/wan/wan_geometry.h"
#include "pipeline/pipeline_stage.h"

namespace fastvideo {

class PrepareLatentsStage final : public PipelineStage {
 public:
  PrepareLatentsStage(const WanGeometry& geometry, Device device);
  std::string_view name() const override { return "prepare_latents"; }
  void run(RequestState& state) override;

 private:
  const WanGeometry& geometry_;
  Device device_;
};

}  // namespace fastvideo
