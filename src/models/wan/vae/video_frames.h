// Decoder output -> 8-bit RGB frames.
#pragma once

#include "core/tensor.h"
#include "io/video.h"

namespace fastvideo {

// video [1, 3, F, H, W] RGB in [−1, 1] (WanVaeDecoder::decode), on any device and of any float
// dtype -> F×H×W×3 uint8 at `fps`.
Video frames_from_decoder(const Tensor& video, double fps);

}  // namespace fastvideo
