#include "models/wan/vae/video_frames.h"

#include <algorithm>

#include "core/parallel.h"
#include "ops/elementwise.h"

namespace fastvideo {

Video frames_from_decoder(const Tensor& video, double fps) {
  FV_CHECK(video.ndim() == 5 && video.size(0) == 1 && video.size(1) == 3,
           "frames_from_decoder: expected video [1,3,F,H,W], got ", video.describe());
  const int64_t F = video.size(2), H = video.size(3), W = video.size(4), plane = H * W;
  const Tensor v = video.to(Device::cpu()).to(DType::F32).contiguous();
  FV_CHECK(ops::all_finite(v), "frames_from_decoder: video ", video.describe(),
           " contains NaN or Inf");
  const float* px = v.f32().data();
  Video out;
  out.frames = int(F);
  out.height = int(H);
  out.width = int(W);
  out.fps = fps;
  out.rgb.resize(size_t(F * plane * 3));
  // wan21.md §2.6 / fastvideo.md §1.1: postprocess is clamp(x/2 + 0.5, 0, 1); the uint8 step is
  // export_to_video's (frame·255).astype(uint8), which truncates (not the PIL path's rounding).
  parallel_for(F * H, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t f = r / H, h = r % H;
      uint8_t* dst = out.rgb.data() + (r * W) * 3;
      for (int64_t c = 0; c < 3; ++c) {
        const float* src = px + ((c * F + f) * H + h) * W;
        for (int64_t w = 0; w < W; ++w) {
          const float unit = std::clamp(src[w] / 2.0f + 0.5f, 0.0f, 1.0f);
          dst[w * 3 + c] = uint8_t(unit * 255.0f);
        }
      }
    }
  });
  return out;
}

}  // namespace fastvideo
