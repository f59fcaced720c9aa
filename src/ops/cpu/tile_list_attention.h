// Block-sparse attention over token tiles on the CPU, f32 (the fine stage of VSA, and STA): each
// query tile attends to the valid tokens of the key tiles its list names. The keys are gathered
// into one contiguous block, so padding never enters the math; the attention is the engine's CPU
// attention (ops::cpu::attention) on that block.
#pragma once

#include "core/tensor.h"
#include "ops/token_tiling.h"

namespace fastvideo::ops::cpu {

// q, k, v F32 [B, S, H, D] (S = tiling.tokens); lists I32 [B, H, N, L] (ops/tile_lists.h,
// checked): the key tiles of each query tile. -> [B, S, H, D] F32.
Tensor tile_list_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const TokenTiling& tiling, const Tensor& lists, float scale);

}  // namespace fastvideo::ops::cpu
