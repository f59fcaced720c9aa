#include "models/wan/vae/wan_upsample.h"

#include "ops/channels_last.h"

namespace fastvideo {

WanUpsample::WanUpsample(const Weights& weights, const std::string& prefix, bool temporal)
    : resample_weight_(
          ops::channels_last_weight(weights.get(prefix + ".resample.1.weight").unsqueeze(2))),
      resample_bias_(weights.get(prefix + ".resample.1.bias")) {
  if (temporal) time_conv_.emplace(weights, prefix + ".time_conv", 1, 0, 0);
}

Tensor WanUpsample::forward(const Tensor& x, Cache& cache, const RowBand* band) const {
  FV_CHECK(x.ndim() == 5, "WanUpsample: expected [B,T,H,W,C], got ", x.describe());
  Tensor frames = x;
  if (time_conv_) {
    if (!cache.seen_first_chunk) {
      // wan21.md §2.4 chunk 0: no temporal upsampling, the frame passes through.
      cache.seen_first_chunk = true;
    } else {
      const int64_t B = x.size(0), T = x.size(1), H = x.size(2), W = x.size(3), C = x.size(4);
      const Tensor g = time_conv_->forward(x, cache.time_conv);  // [B, T, H, W, 2C]
      // Channel halves g0 = [0,C), g1 = [C,2C): input frame j becomes frames (g0_j, g1_j).
      frames = g.reshape({B, T, H, W, 2, C})
                   .permute({0, 1, 4, 2, 3, 5})
                   .contiguous()
                   .reshape({B, 2 * T, H, W, C});
    }
  }
  // A per-frame Conv2d is a conv3d with a kernel one frame deep; a band's halo is its height
  // padding.
  const Tensor upsampled = ops::upsample_nearest2x_ndhwc(frames);
  const Tensor rows = band ? band->with_halo(upsampled, 1, /*h=*/2) : upsampled;
  return ops::conv3d_ndhwc(rows, resample_weight_, resample_bias_, {0, 0, band ? 0 : 1, 1});
}

}  // namespace fastvideo
