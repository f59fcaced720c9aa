// Rotary position embedding on interleaved pairs (wan21.md §1.4): for pair p of every head,
//   out[2p]   = x[2p]·cos θ_p − x[2p+1]·sin θ_p
//   out[2p+1] = x[2p]·sin θ_p + x[2p+1]·cos θ_p
// The angles come as tables, so the op does not know how a model lays out its positions.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops {

// x [B, S, H, D] (D even); cos, sin [S, D/2] shared by every batch item and head.
Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin);
}  // namespace cpu
namespace cuda {
Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin);
}  // namespace cuda

}  // namespace fastvideo::ops
