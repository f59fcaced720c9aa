// How a (T, H, W) token grid is cut into boxes (VSA's 4×4×4, STA's 6×8×8): boxes in (t, h, w)
// raster order, smaller ones at the far edge of an axis; each box owns box-volume slots of the
// tiled sequence, its valid tokens (in raster order inside the box) at the front and padding
// behind. Built once per (grid, box) and cached.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace fastvideo {

struct TokenTiling {
  std::array<int64_t, 3> grid{};    // T, H, W
  std::array<int64_t, 3> box{};     // tile edge per axis
  std::array<int64_t, 3> tiles{};   // ceil(grid / box) per axis
  int64_t num_tiles = 0;            // N
  int64_t tile_slots = 0;           // box volume: slots per tile
  int64_t padded_len = 0;           // tile_slots · N
  int64_t tokens = 0;               // S = T·H·W
  std::vector<int32_t> tile_sizes;  // [N] valid tokens per tile (FastVideo's variable_block_sizes)
  std::vector<int32_t> token_of_slot;  // [padded_len] raster token in each slot, -1 for padding
  std::vector<int32_t> slot_of_token;  // [S] the slot of each raster token (untiling is one gather)

  // Tile order (for_grid's tile_order): the sequence holds tile 0's valid tokens, then tile 1's,
  // and so on, so token_of_slot and slot_of_token above name its rows, not raster tokens (the
  // same VSA code then runs on rows in tile order). token_of_row [S]: each row's raster token;
  // row_of_token [S]: its inverse; tile_starts [N]: each tile's first row. All three empty in
  // raster order.
  bool tile_order = false;
  std::vector<int32_t> token_of_row, row_of_token, tile_starts;

  // A tile's (t, h, w) coordinates in tiles.
  std::array<int64_t, 3> coords(int64_t tile) const;

  // `what` names the caller in errors ("VIDEO_SPARSE_ATTN").
  static std::shared_ptr<const TokenTiling> for_grid(std::array<int64_t, 3> grid,
                                                     std::array<int64_t, 3> box, const char* what,
                                                     bool tile_order = false);
};

}  // namespace fastvideo
