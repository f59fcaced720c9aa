// Rotary position embedding on interleaved pairs (wan21.md §1.4): for pair p of every head,
//   out[2p]   = x[2p]·cos θ_p − x[2p+1]·sin θ_p
//   out[2p+1] = x[2p]·sin θ_p + x[2p+1]·cos θ_p
// The angles come as tables, so the op does not know how a model lays out its positions.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops {

// x [B, S, H, D] (D even); cos, sin [S, D/2] shared by every batch item and head.
Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin);

// apply_rope(rms_norm(x, eps, weight).reshape([B, S, heads, D/heads]), cos, sin) in one pass: the
// q/k path of Wan self-attention (wan21.md §1.5: RMSNorm over all heads, then RoPE per head).
// x [B, S, D]; weight [D] or undefined; cos, sin [S, D/heads/2] -> [B, S, heads, D/heads].
Tensor rms_norm_rope(const Tensor& x, float eps, const Tensor& weight, const Tensor& cos,
                     const Tensor& sin, int64_t heads);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin);
Tensor rms_norm_rope(const Tensor& x, float eps, const Tensor& weight, const Tensor& cos,
                     const Tensor& sin, int64_t heads);
}  // namespace cpu
namespace cuda {
Tensor apply_rope(const Tensor& x, const Tensor& cos, const Tensor& sin);
Tensor rms_norm_rope(const Tensor& x, float eps, const Tensor& weight, const Tensor& cos,
                     const Tensor& sin, int64_t heads);
}  // namespace cuda

}  // namespace fastvideo::ops
