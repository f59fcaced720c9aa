// Token tiles laid out for the Hopper FLASH_ATTN kernel's key runs (ops/cuda/key_runs_attention.h),
// the tile-list route's layout on sm_90: keys packed tile after tile with no padding, so a query
// tile's key tiles that are neighbours in tile order (STA's window along w, VMoBA's selected chunks
// in a row) are one run of consecutive keys, walked 176 or 192 keys a step by the dense kernel's
// own pipeline; queries in 128-row blocks per group of tiles whose lists are the same (STA's
// windows clamped at the grid's edges make neighbouring tiles share theirs), the group's valid
// tokens at the front of its blocks and padding behind. Grouping keeps partial edge tiles from
// padding a block each.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "ops/token_tiling.h"

namespace fastvideo {

struct TileRuns {
  static constexpr int64_t kQueryBlock = 128;
  int64_t tokens = 0;                        // S
  int64_t query_blocks = 0;                  // Qb
  std::vector<int32_t> token_of_query_row;   // [128 · Qb] raster token, -1 padding
  std::vector<int32_t> tile_of_query_block;  // [Qb] the tile whose list row the block takes
  std::vector<int32_t> token_of_key_row;     // [S] tile after tile, each in its slot order
  std::vector<int32_t> key_offset;           // [N + 1]: tile t's keys are rows [t], [t + 1)

  // A group per tile, cached per tiling (grid and box) for the process's life.
  static std::shared_ptr<const TileRuns> for_tiling(const TokenTiling& tiling);
  // Tiles grouped, group[t] the lowest tile of t's group: built anew (groups follow the lists,
  // which VMoBA changes every call; the caller keeps what it reuses), or for_tiling's when every
  // tile is its own group.
  static std::shared_ptr<const TileRuns> grouped(const TokenTiling& tiling,
                                                 const std::vector<int32_t>& group);
};

// The groups of tiles whose lists I32 [B, H, N, L] (-1 entries ignored, order ignored) are the
// same in every (batch, head): [N], each tile's lowest fellow.
std::vector<int32_t> same_list_groups(const Tensor& lists);

// Key-tile lists (ops/tile_lists.h, checked) -> {runs I32 [B, H, N, R, 2] of key rows [begin, end),
// counts I32 [B, H, N]}: each row's tiles in ascending order, neighbours merged into one run; R the
// most runs of any row (entries past a row's count are unused).
std::pair<Tensor, Tensor> tile_list_runs(const TileRuns& layout, const Tensor& lists);

}  // namespace fastvideo
