// The decoder's Resample in upsample2d / upsample3d mode (wan21.md §2.2, §2.4):
//   upsample3d: temporal ×2 through time_conv (C -> 2C, kernel (3,1,1), causal), whose channel
//               halves (g0, g1) become two consecutive frames; the stream's first chunk skips it
//               (diffusers' "Rep" slot), so frame 0 stays one frame;
//   both:       nearest ×2 in H and W, then resample.1 = Conv2d(C -> C/2, 3×3, padding 1) per
//               frame.
#pragma once

#include <optional>
#include <string>

#include "models/wan/vae/causal_conv3d.h"

namespace fastvideo {

class WanUpsample {
 public:
  struct Cache {
    bool seen_first_chunk = false;
    CausalConv3dCache time_conv;  // the stream of frames after the first chunk
  };

  WanUpsample(const Weights& weights, const std::string& prefix, bool temporal);

  // x [B, t, H, W, C] (channels-last), the next chunk of a stream -> [B, t', 2H, 2W, C/2] with
  // t' = t for the first chunk or a 2-D upsampler, else 2t. With `band`, x is this rank's band of
  // rows: time_conv (kernel height 1) stays local, the 3×3 conv takes its halo at the doubled
  // height.
  Tensor forward(const Tensor& x, Cache& cache, const RowBand* band = nullptr) const;

 private:
  std::optional<CausalConv3d> time_conv_;
  // Conv2d [C/2, C, 3, 3] as a one-frame conv3d, channels-last: [C/2, 1, 3, 3, C].
  Tensor resample_weight_, resample_bias_;
};

}  // namespace fastvideo
