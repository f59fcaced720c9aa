#include "pipeline/stages/decode_stage.h"

#include "models/wan/vae/video_frames.h"

namespace fastvideo {

DecodeStage::DecodeStage(const WanVaeDecoder& vae, std::optional<VaeTiling> tiling)
    : vae_(vae), tiling_(tiling) {}

void DecodeStage::run(RequestState& state) {
  GenerationResult& result = state.result;
  result.latent_shape = state.latents.shape();
  const Tensor host = state.latents.to(Device::cpu()).to(DType::F32).contiguous();
  result.final_latents.assign(host.f32().begin(), host.f32().end());
  // wan21.md §4.1: the latents go to the VAE in its dtype; the frames come back to the host.
  const Tensor decoded = vae_.decode(state.latents.to(vae_.dtype()), tiling_);
  state.video = frames_from_decoder(decoded, state.resolved.fps);
}

}  // namespace fastvideo
