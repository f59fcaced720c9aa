// head_dim 64 on kernels written for 128 channels (VIDEO_SPARSE_ATTN, SAGE_ATTN on a GPU): q, k, v
// (and VSA's gate) zero-padded to 128 channels give the same attention. The padded channels add
// zero to every dot product (fine scores, VSA's coarse tile means and scores, Sage's per-group
// maxima, its K smoothing mean) and come out as zero output channels, which are dropped. It costs
// the FLOPs and bytes of 128 channels: no kernel of ours has a 64-channel variant.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops::cuda {

inline constexpr int64_t kPaddedHeadDim = 128;

// x [B, S, H, D] -> [B, S, H, 128], channels D.. zero, on x's device; undefined stays undefined.
Tensor pad_head_dim(const Tensor& x);

// out [B, S, H, 128] -> its first `head_dim` channels, contiguous.
Tensor unpad_head_dim(const Tensor& out, int64_t head_dim);

}  // namespace fastvideo::ops::cuda
