// Device dispatch and input checks for src/ops/rgb8_frames.h.
#include "ops/rgb8_frames.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

namespace {

void check_rgb8_input(const Tensor& video) {
  FV_CHECK(video.ndim() == 5 && video.size(0) == 1 && video.size(1) == 3,
           "rgb8_frames: expected video [1,3,F,H,W], got ", video.describe());
  FV_CHECK(is_float_dtype(video.dtype()), "rgb8_frames: expected F32, BF16 or F16 video, got ",
           video.describe());
}

}  // namespace

Tensor rgb8_frames(const Tensor& video) {
  check_rgb8_input(video);
  return FV_DISPATCH(video.device(), rgb8_frames(video));
}

}  // namespace fastvideo::ops
