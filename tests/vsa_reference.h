// Video Sparse Attention written from the reference text (fastvideo.md §3.2–3.3), independently of
// src/ops: tiles from token coordinates, the coarse branch by its definition in double, the tile
// selection by a stable descending sort, and the fine branch as dense attention under the block
// mask (testing::reference_attention with −inf outside the selected tiles).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace fastvideo::testing {

struct VsaReference {
  Tensor out;                     // [B, S, H, D] f32
  Tensor scores;                  // [B, H, N, N] f32, scaled coarse scores
  std::vector<int32_t> selected;  // [B, H, N, topk], ascending per row
};

// q, k, v [B, S, H, D] f32 CPU in raster (t, h, w) order of `grid`; gate likewise or undefined
// (G = 0). topk: the number of key tiles each query tile keeps.
VsaReference reference_vsa(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                           std::array<int64_t, 3> grid, int64_t topk, float scale);

// The tiles a row of scores selects by the rule "the topk largest; equal scores in index order":
// a stable sort on descending score, its first topk, in ascending index order.
std::vector<int32_t> reference_select(const float* scores, int64_t n, int64_t topk);

}  // namespace fastvideo::testing
