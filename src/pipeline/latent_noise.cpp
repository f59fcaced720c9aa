#include "pipeline/latent_noise.h"

namespace fastvideo {

Tensor draw_latent_noise(TorchGenerator& generator, const Shape& bcthw, WanPipelineKind pipeline) {
  FV_CHECK(bcthw.size() == 5, "latent noise: expected a [B, C, T, H, W] shape, got ",
           shape_str(bcthw));
  if (pipeline == WanPipelineKind::Wan) return generator.randn(bcthw);
  const Shape btchw = {bcthw[0], bcthw[2], bcthw[1], bcthw[3], bcthw[4]};
  return generator.randn(btchw).permute({0, 2, 1, 3, 4}).contiguous();
}

}  // namespace fastvideo
