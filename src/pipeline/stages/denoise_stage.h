// denoise: the denoising loop (pipeline/denoise_loop.h) with classifier-free guidance and
// FastVideo's CFG gate (fastvideo.md §5), reporting progress and honouring a stop request after
// each step.
#pragma once

#include "core/stop_flag.h"
#include "fastvideo/video_generator.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/wan_geometry.h"
#include "pipeline/sparse_attention_settings.h"
#include "pipeline/pipeline_stage.h"

namespace fastvideo {

struct ProgressCallback {
  VideoGenerator::ProgressFn fn = nullptr;
  void* user = nullptr;
};

class DenoiseStage final : public PipelineStage {
 public:
  // sparse: the resolved sparse-attention settings, handed to the per-step metadata.
  DenoiseStage(const WanTransformer& transformer, const WanGeometry& geometry,
               const SparseAttentionSettings& sparse,
               const ProgressCallback& progress, const StopFlag& stop);
  std::string_view name() const override { return "denoise"; }
  void run(RequestState& state) override;

 private:
  const WanTransformer& transformer_;
  const WanGeometry& geometry_;
  SparseAttentionSettings sparse_;
  const ProgressCallback& progress_;
  const StopFlag& stop_;
};

}  // namespace fastvideo
