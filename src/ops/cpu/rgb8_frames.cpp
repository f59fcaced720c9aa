// CPU twin of src/ops/rgb8_frames.h: a row of the frames per task.
#include "ops/rgb8_frames.h"

#include "core/parallel.h"

namespace fastvideo::ops::cpu {

Tensor rgb8_frames(const Tensor& video) {
  const int64_t F = video.size(2), H = video.size(3), W = video.size(4);
  const Tensor v = video.to(DType::F32).contiguous();
  Tensor out = Tensor::empty({F, H, W, 3}, DType::U8);
  const float* px = v.f32().data();
  uint8_t* bytes = out.data<uint8_t>();
  parallel_for(F * H, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t f = r / H, h = r % H;
      uint8_t* dst = bytes + r * W * 3;
      for (int64_t c = 0; c < 3; ++c) {
        const float* src = px + ((c * F + f) * H + h) * W;
        for (int64_t w = 0; w < W; ++w) dst[w * 3 + c] = rgb8_value(src[w]);
      }
    }
  });
  return out;
}

}  // namespace fastvideo::ops::cpu
