// The 3-D convolution of channels-first video [B, C, T, H, W], stride 1: the VAE's convolutions
// on its latents (the decoder's own run channels-last, ops/channels_last.h). CPU: im2col tiles +
// OpenBLAS sgemm.
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

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dPadding& padding = {});
}  // namespace cpu
namespace cuda {
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv3dPadding& padding = {});
}  // namespace cuda

}  // namespace fastvideo::ops
