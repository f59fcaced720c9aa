// Wan2.1 text-to-video as a list of stages (DESIGN §1): validate → encode text → prepare
// timesteps → prepare latents → denoise → decode → write, over one RequestState per request. The
// checkpoint's model_index.json picks the pipeline: WanPipeline (UniPC steps with CFG), or
// WanDMDPipeline (FastWan: no timestep stage, frames-first noise, the DMD denoise stage).
// The models are loaded once, at construction; on a GPU every model, the latents and the scheduler
// state live on the device, and the latents come back to the host once, for the result.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "attention/attention_selection.h"
#include "attention/sta_search_recorder.h"
#include "core/compute_device.h"
#include "core/stop_flag.h"
#include "fastvideo/video_generator.h"
#include "io/checkpoint.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "models/wan/vae/wan_vae_specs.h"
#include "models/wan/wan_geometry.h"
#include "pipeline/memory_plan.h"
#include "pipeline/pipeline_stage.h"
#include "pipeline/prompt_encoder.h"
#include "pipeline/sampling_preset.h"
#include "pipeline/stages/denoise_stage.h"

namespace fastvideo {

class TextToVideoPipeline {
 public:
  TextToVideoPipeline(const std::filesystem::path& model_dir, const GeneratorOptions& options);
  ~TextToVideoPipeline();

  // Runs every stage for `request`. Throws Cancelled (and leaves no output) when a stop is
  // requested (stop()) before it finishes; a stop requested during the run is consumed with it.
  GenerationResult run(const GenerationRequest& request);

  // The validate stage alone, without the output path: the recorded parameters of `request`.
  std::vector<std::pair<std::string, std::string>> resolve(GenerationRequest request) const;

  ProgressCallback& progress() { return progress_; }
  StopFlag& stop() { return stop_; }
  Device device() const { return device_; }

 private:
  Device device_;
  DeviceMemoryBudget budget_;  // max_device_memory while this pipeline lives
  std::vector<std::unique_ptr<DeviceMemoryBudget>> other_budgets_;  // the run's other GPUs
  CheckpointFolder checkpoint_;
  AttentionSelection attention_;  // resolved once, before any weights load (DESIGN §4)
  std::unique_ptr<WanTransformer> transformer_;
  std::unique_ptr<WanVaeDecoder> vae_;
  std::unique_ptr<WanGeometry> geometry_;
  std::unique_ptr<PromptEncoder> prompt_encoder_;
  SamplingPreset preset_;
  ProgressCallback progress_;
  StopFlag stop_;
  std::shared_ptr<StaSearchRecorder> sta_search_;  // GeneratorOptions::sta_search_candidates
  std::vector<std::unique_ptr<PipelineStage>> stages_;
  OffloadChoice offload_;  // what the memory plan offloads
  // What keeps the transformer's blocks on the device (compile mode, FP8, sharded or several
  // GPUs), for messages; empty: nothing, layerwise offload is open.
  std::string dit_resident_because_;
  // The switch that would help `stage` after it ran out of device memory.
  std::string memory_advice(const std::string& stage) const;
};

}  // namespace fastvideo
