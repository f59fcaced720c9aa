#include "models/wan/vae/video_frames.h"

#include "ops/elementwise.h"
#include "ops/rgb8_frames.h"

namespace fastvideo {

Video frames_from_decoder(const Tensor& video, double fps) {
  FV_CHECK(video.ndim() == 5 && video.size(0) == 1 && video.size(1) == 3,
           "frames_from_decoder: expected video [1,3,F,H,W], got ", video.describe());
  FV_CHECK(ops::all_finite(video), "the VAE decoder's output ", video.describe(),
           " contains NaN or Inf (are the vae weights finite and within range, and the latents?)");
  // The bytes are made where the video is; only they cross to the host (a GPU video of 81 frames
  // at 480×832 is 97 MB of bytes instead of 194 MB of BF16 to convert on the host).
  const Tensor bytes = ops::rgb8_frames(video);
  Video out;
  out.frames = int(video.size(2));
  out.height = int(video.size(3));
  out.width = int(video.size(4));
  out.fps = fps;
  out.rgb.resize(size_t(bytes.numel()));
  Tensor::borrow(out.rgb.data(), bytes.shape(), DType::U8, nullptr).copy_from(bytes);
  return out;
}

}  // namespace fastvideo
