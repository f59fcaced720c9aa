// denoise (WanDMDPipeline): FastWan's few-step DMD loop (pipeline/dmd_denoise_loop.h), one
// transformer pass per step, reporting progress and honouring a stop request after each step, as
// the WanPipeline denoise stage does.
#pragma once

#include <vector>

#include "core/stop_flag.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/wan_geometry.h"
#include "pipeline/sparse_attention_settings.h"
#include "pipeline/pipeline_stage.h"
#include "pipeline/stages/denoise_stage.h"

namespace fastvideo {

class DmdDenoiseStage final : public PipelineStage {
 public:
  // timesteps: the resolved dmd_denoising_steps (checked); sparse: the resolved sparse-attention settings.
  DmdDenoiseStage(const WanTransformer& transformer, const WanGeometry& geometry,
                  std::vector<int> timesteps, const SparseAttentionSettings& sparse, const ProgressCallback& progress,
                  const StopFlag& stop);
  std::string_view name() const override { return "denoise"; }
  void run(RequestState& state) override;

 private:
  const WanTransformer& transformer_;
  const WanGeometry& geometry_;
  std::vector<int> timesteps_;
  SparseAttentionSettings sparse_;
  const ProgressCallback& progress_;
  const StopFlag& stop_;
};

}  // namespace fastvideo
