// Decoded video -> 8-bit RGB frames, on the video's device (wan21.md §2.6 / fastvideo.md §1.1):
// postprocess clamp(x/2 + 0.5, 0, 1), then export_to_video's (frame·255).astype(uint8), which
// truncates (not the PIL path's rounding). On the GPU only the bytes cross to the host.
#pragma once

#include <cmath>

#include "core/tensor.h"

namespace fastvideo::ops {

// video [1, 3, F, H, W] (F32 or BF16; F16 too on the CPU) -> U8 [F, H, W, 3], channels interleaved.
// A NaN becomes 0 (callers refuse non-finite videos first; the two twins agree regardless).
Tensor rgb8_frames(const Tensor& video);

// Backend implementations; the function above checks the video and dispatches on its device.
namespace cpu {
Tensor rgb8_frames(const Tensor& video);
}  // namespace cpu
namespace cuda {
Tensor rgb8_frames(const Tensor& video);
}  // namespace cuda

// One value's byte, shared by the twins so they agree bit for bit: fmaxf/fminf send NaN to 0,
// x/2 is exact, so contracting the add into an FMA changes nothing.
#ifdef __CUDACC__
__host__ __device__
#endif
    inline unsigned char
    rgb8_value(float x) {
  return static_cast<unsigned char>(fminf(fmaxf(x / 2.0f + 0.5f, 0.0f), 1.0f) * 255.0f);
}

}  // namespace fastvideo::ops
