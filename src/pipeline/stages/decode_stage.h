// decode: the denoised latents through the Wan VAE (in its weights' dtype, wan21.md §4.1) into
// 8-bit RGB frames on the host; the latents handed to the VAE are kept in the result.
#pragma once

#include <optional>

#include "core/dtype.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "pipeline/pipeline_stage.h"

namespace fastvideo {

class DecodeStage final : public PipelineStage {
 public:
  DecodeStage(const WanVaeDecoder& vae, std::optional<VaeTiling> tiling);
  std::string_view name() const override { return "decode"; }
  void run(RequestState& state) override;

 private:
  const WanVaeDecoder& vae_;
  std::optional<VaeTiling> tiling_;  // GeneratorOptions::vae_tiling
};

}  // namespace fastvideo
