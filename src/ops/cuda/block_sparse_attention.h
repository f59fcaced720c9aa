// Block-sparse attention over 64-token tiles, VSA's fine stage (fastvideo.md §3.3): q, k, v
// [B, L, H, 128] BF16 with L = 64·N in tile order; query tile i of (b, h) attends to the key tiles
// selected[b, h, i, 0 .. topk) (I32), of which the first tile_sizes[j] (I32 [N]) keys are valid;
// softmax scale `scale`, fp32 accumulation -> out [B, L, H, 128] BF16 (padding rows computed and
// left for the caller to drop). All on one device, contiguous.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops::cuda {

// The portable kernel (mma.sync + cp.async, any sm_80+ GPU): flash_attention_portable.cu.
void portable_block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                     const Tensor& selected, const Tensor& tile_sizes,
                                     float scale, const Tensor& out);

// The Hopper kernel (TMA + wgmma, warp-specialised; sm_90 only): block_sparse_attention_hopper.cu.
void hopper_block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                   const Tensor& selected, const Tensor& tile_sizes, float scale,
                                   const Tensor& out);

// The Hopper kernel on sm_90, the portable one elsewhere.
void block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                            const Tensor& selected, const Tensor& tile_sizes, float scale,
                            const Tensor& out);

}  // namespace fastvideo::ops::cuda
