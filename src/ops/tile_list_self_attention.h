// The entry STA and VMoBA share: self-attention over token tiles in which each query tile attends
// to the key tiles its list names (checked, then the CPU kernel, ops/cpu/tile_list_attention.h;
// their GPU route is not built yet).
#pragma once

#include <string_view>

#include "core/tensor.h"
#include "ops/token_tiling.h"

namespace fastvideo::ops {

// q, k, v one shape [B, S, H, D] with S = tiling.tokens, on the CPU; else an error naming
// `backend` and what is wrong.
void check_tiled_self_attention(std::string_view backend, const Tensor& q, const Tensor& k,
                                const Tensor& v, const TokenTiling& tiling);

// lists I32 [B, H, N, L] (ops/cpu/tile_list_attention.h) -> [B, S, H, D] in q's dtype.
Tensor tile_list_self_attention(std::string_view backend, const Tensor& q, const Tensor& k,
                                const Tensor& v, const TokenTiling& tiling, const Tensor& lists,
                                float scale);

}  // namespace fastvideo::ops
