// Convolutions and spatial resampling in the channels-first layouts the VAE uses:
// video [B, C, T, H, W], images [B, C, H, W]. Stride 1, f32. CPU: im2col tiles + OpenBLAS sgemm.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace fastvideo::ops {

// Explicit zero padding of a 3-D convolution. Time has separate front/back amounts so a causal
// convolution (wan21.md §2.2: 2·pt zero frames in front, none behind) needs no padded copy.
struct Conv3dPadding {
  int64_t time_front = 0;
  int64_t time_back = 0;
  int64_t height = 0;  // both sides
  int64_t width = 0;   // both sides
};

// x [B, C, T, H, W], weight [O, C, kt, kh, kw], bias [O] or undefined -> [B, O, T', H', W'].
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dPadding& padding = {});

// x [B, C, H, W], weight [O, C, kh, kw], bias [O] or undefined; zero padding on both sides.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_h = 0,
              int64_t pad_w = 0);

// Nearest-neighbour ×2 on the last two dims (every leading dim is a separate plane):
// [..., H, W] -> [..., 2H, 2W]. For integer ×2, "nearest" and "nearest-exact" are both plain
// pixel duplication (wan21.md §2.2).
Tensor upsample_nearest2x(const Tensor& x);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dPadding& padding = {});
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_h = 0,
              int64_t pad_w = 0);
Tensor upsample_nearest2x(const Tensor& x);
}  // namespace cpu
namespace cuda {
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dPadding& padding = {});
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_h = 0,
              int64_t pad_w = 0);
Tensor upsample_nearest2x(const Tensor& x);
}  // namespace cuda

}  // namespace fastvideo::ops
