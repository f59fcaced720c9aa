#include "models/wan/vae/wan_upsample.h"

#include "ops/conv.h"

namespace fastvideo {

WanUpsample::WanUpsample(const Weights& weights, const std::string& prefix, bool temporal)
    : resample_weight_(weights.get(prefix + ".resample.1.weight").unsqueeze(2)),
      resample_bias_(weights.get(prefix + ".resample.1.bias")) {
  if (temporal) time_conv_.emplace(weights, prefix + ".time_conv", 1, 0, 0);
}

Tensor WanUpsample::forward(const Tensor& x, Cache& cache, const RowBand* band) const {
  FV_CHECK(x.ndim() == 5, "WanUpsample: expected [B,C,T,H,W], got ", x.describe());
  Tensor frames = x;
  if (time_conv_) {
    if (!cache.seen_first_chunk) {
      // wan21.md §2.4 chunk 0: no temporal upsampling, the frame passes through.
      cache.seen_first_chunk = true;
    } else {
      const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
      const Tensor g = time_conv_->forward(x, cache.time_conv);  // [B, 2C, T, H, W]
      // Channel halves g0 = [0,C), g1 = [C,2C): input frame j becomes frames (g0_j, g1_j).
      frames = g.reshape({B, 2, C, T, H, W})
                   .permute({0, 2, 3, 1, 4, 5})
                   .contiguous()
                   .reshape({B, C, 2 * T, H, W});
    }
  }
  // A per-frame Conv2d is a conv3d with a kernel one frame deep; a band's halo is its height
  // padding.
  const Tensor upsampled = ops::upsample_nearest2x(frames);
  const Tensor rows = band ? band->with_halo(upsampled, 1) : upsampled;
  return ops::conv3d(rows, resample_weight_, resample_bias_, {0, 0, band ? 0 : 1, 1});
}

}  // namespace fastvideo
