// Token tiles cut into the 64-slot blocks of the GPU's block-sparse kernel
// (ops/cuda/vsa_fine_stage.h), so that STA's 6×8×8 tiles (and any other tiling) run on it: tile t's
// valid tokens, in the tiling's slot order, fill ceil(size / 64) blocks, the last one partial, so
// every block holds at least one token. One empty block closes the layout: it pads the shorter key
// lists, and since its keys are all masked it changes no row whose list starts with a real block.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "ops/token_tiling.h"

namespace fastvideo {

struct TileBlocks {
  static constexpr int64_t kBlock = 64;
  int64_t tokens = 0;                  // S
  int64_t num_blocks = 0;              // the empty one included (it is the last)
  std::vector<int32_t> block_sizes;    // [num_blocks] valid tokens: 1 .. 64, and 0 for the last
  std::vector<int32_t> token_of_slot;  // [64 · num_blocks] raster token in each slot, -1 padding
  std::vector<int32_t> slot_of_token;  // [S]
  std::vector<int32_t> first_block;    // [N + 1]: tile t owns blocks first_block[t] .. [t + 1)

  int64_t empty_block() const { return num_blocks - 1; }

  // Cached per tiling (grid and box).
  static std::shared_ptr<const TileBlocks> for_tiling(const TokenTiling& tiling);
};

// Key-tile lists (ops/tile_lists.h, checked) -> key-block lists I32
// [B, H, num_blocks, Lb]: each block of query tile t lists the blocks of tile t's key tiles, in
// list order, then the empty block up to Lb (the longest). The empty query block lists block 0.
Tensor expand_tile_lists(const TileBlocks& blocks, const Tensor& lists);

}  // namespace fastvideo
