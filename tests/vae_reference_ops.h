// The channels-first VAE ops the tests check the channels-last decoder against (the CPU ops it ran
// on before it went channels-last): [B, C, T, H, W] video, [B, C, H, W] images, f32 on the CPU.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace fastvideo::testing {

// The Wan VAE RMS_norm (wan21.md §2.2) over dim 1 of x [B, C, ...]:
// y = x / max(‖x‖₂ over C, 1e-12) · √C · gamma[c], gamma of C elements (any shape, e.g. [C,1,1,1]
// as stored). Statistics in double, in the order of ops::rms_norm_ndhwc's CPU twin.
Tensor rms_norm_channels(const Tensor& x, const Tensor& gamma);

// x [B, C, H, W], weight [O, C, kh, kw], bias [O] or undefined; zero padding on both sides.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_h = 0,
              int64_t pad_w = 0);

// Nearest-neighbour ×2 on the last two dims (every leading dim is a separate plane):
// [..., H, W] -> [..., 2H, 2W]. For integer ×2, "nearest" and "nearest-exact" are both plain
// pixel duplication (wan21.md §2.2).
Tensor upsample_nearest2x(const Tensor& x);

}  // namespace fastvideo::testing
