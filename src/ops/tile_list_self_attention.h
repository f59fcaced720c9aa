// The entry STA and VMoBA share: self-attention over token tiles in which each query tile attends
// to the key tiles its list names (checked, then the CPU kernel, ops/cpu/tile_list_attention.h, or
// on a GPU ops/cuda/tile_list_attention.cpp).
#pragma once

#include <string_view>

#include "core/tensor.h"
#include "ops/token_tiling.h"

namespace fastvideo::ops {

// q, k, v one shape [B, S, H, D] with S = tiling.tokens, one device and dtype; else an error
// naming `backend` and what is wrong.
void check_tiled_self_attention(std::string_view backend, const Tensor& q, const Tensor& k,
                                const Tensor& v, const TokenTiling& tiling);

// lists I32 [B, H, N, L] on the CPU (ops/cpu/tile_list_attention.h) -> [B, S, H, D] in q's
// dtype. On a GPU: BF16, head_dim 128.
Tensor tile_list_self_attention(std::string_view backend, const Tensor& q, const Tensor& k,
                                const Tensor& v, const TokenTiling& tiling, const Tensor& lists,
                                float scale);

namespace cuda {
// The GPU route (ops/cuda/tile_list_attention.cpp): on sm_90 the dense Hopper kernel over each
// query tile's runs of keys, elsewhere the portable block-sparse kernel over 64-token blocks.
// q, k, v BF16 [B, S, H, 128].
Tensor tile_list_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const TokenTiling& tiling, const Tensor& lists, float scale);
}  // namespace cuda

}  // namespace fastvideo::ops
