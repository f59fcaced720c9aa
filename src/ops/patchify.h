// Video latents <-> token sequences for patch-embedding transformers (wan21.md §1.3, §1.6).
// Tokens are frame-major, then row, then column: token = f·(H'·W') + h·W' + w.
#pragma once

#include <array>

#include "core/tensor.h"

namespace fastvideo::ops {

// x [B, C, T, H, W] -> [B, S, C·pt·ph·pw] with S = (T/pt)·(H/ph)·(W/pw). Each token vector is
// ordered (c, kt, kh, kw), c outermost: the flatten order of a Conv3d weight [D, C, pt, ph, pw],
// so the patch embedding is linear(patchify(x), weight.reshape(D, -1), bias).
Tensor patchify(const Tensor& x, std::array<int, 3> patch);

// y [B, S, pt·ph·pw·C] -> [B, C, T'·pt, H'·ph, W'·pw] for the token grid (T', H', W'). Each token
// vector is ordered (kt, kh, kw, c), c innermost, which is not patchify's order: this is the
// layout of Wan's proj_out rows (wan21.md §1.6).
Tensor unpatchify(const Tensor& y, std::array<int64_t, 3> grid, std::array<int, 3> patch);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor patchify(const Tensor& x, std::array<int, 3> patch);
Tensor unpatchify(const Tensor& y, std::array<int64_t, 3> grid, std::array<int, 3> patch);
}  // namespace cpu
namespace cuda {
Tensor patchify(const Tensor& x, std::array<int, 3> patch);
Tensor unpatchify(const Tensor& y, std::array<int64_t, 3> grid, std::array<int, 3> patch);
}  // namespace cuda

}  // namespace fastvideo::ops
