// Sliding Tile Attention written from the text (fastvideo.md §4.1), independently of src/ops: dense
// attention with the block mask, token s of tile (ct, ch, cw) seeing token s' of tile (kt, kh, kw)
// when, on every axis, |window centre − k| <= k/2 with the centre the query tile clamped to
// [k/2, n − 1 − k/2], computed per token rather than per tile list.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/sliding_tile_attention.h"

namespace fastvideo::testing {

// q, k, v F32 [B, S, H, D] on the CPU, one window per head -> [B, S, H, D] F32.
Tensor sta_masked_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                            std::array<int64_t, 3> grid, const std::vector<StaWindow>& windows,
                            float scale);

}  // namespace fastvideo::testing
