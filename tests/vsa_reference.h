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
  // With a given selection: its rows that are no top-k of these scores, even allowing for
  // near-ties (a wrong selection), and those that differ from the rule's only by near-ties.
  int64_t invalid_rows = 0, near_tie_rows = 0;
};

// q, k, v [B, S, H, D] f32 CPU in raster (t, h, w) order of `grid`; gate likewise or undefined
// (G = 0). topk: the number of key tiles each query tile keeps. `selection` ([B, H, N, topk],
// ascending per row, e.g. the GPU's): the fine branch attends to it instead of the rule's choice,
// so that two scores within rounding of each other (the GPU's, f64 here) picking different
// tiles does not fail an output comparison; rows it gets wrong by more than near_tie (relative to
// the row's largest |score|; the caller sizes it for its scores' rounding) are counted.
VsaReference reference_vsa(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                           std::array<int64_t, 3> grid, int64_t topk, float scale,
                           const std::vector<int32_t>* selection = nullptr, float near_tie = 0.f);

// The tiles a row of scores selects by the rule "the topk largest; equal scores in index order":
// a stable sort on descending score, its first topk, in ascending index order.
std::vector<int32_t> reference_select(const float* scores, int64_t n, int64_t topk);

}  // namespace fastvideo::testing
