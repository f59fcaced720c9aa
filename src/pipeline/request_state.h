// What one generation knows as it goes through the stages (DESIGN §1): each stage reads what the
// earlier ones left here and adds its own part.
#pragma once

#include <memory>
#include <optional>

#include "core/tensor.h"
#include "core/torch_random.h"
#include "fastvideo/video_generator.h"
#include "io/output_path.h"
#include "io/video.h"
#include "models/wan/dit/wan_transformer.h"
#include "pipeline/sampling_preset.h"
#include "schedulers/scheduler.h"

namespace fastvideo {

struct RequestState {
  explicit RequestState(const GenerationRequest& request) : request(request) {}

  const GenerationRequest& request;
  ResolvedRequest resolved;                            // validate
  std::unique_ptr<OutputTarget> output;                // validate; null without an output path
  WanTransformer::TextContext cond_text, uncond_text;  // encode_text (uncond only with CFG)
  std::unique_ptr<Scheduler> scheduler;                // prepare_timesteps (WanPipeline)
  std::optional<TorchGenerator> generator;             // prepare_latents: the seed's stream
  Tensor latents;                                      // prepare_latents, then denoise
  Video video;                                         // decode
  GenerationResult result;  // every stage adds to it: its timing, parameters, counts, output
};

}  // namespace fastvideo
