// A TileBlocks layout (ops/tile_blocks.h) on one GPU, uploaded once per layout and device: what the
// tile-list attention and VMoBA's gates hand the kernels.
#pragma once

#include "core/tensor.h"
#include "ops/tile_blocks.h"

namespace fastvideo::ops::cuda {

struct DeviceTileBlocks {
  Tensor token_of_slot, slot_of_token, block_sizes;  // I32, as in TileBlocks
  // F32 [N, num_blocks − 1]: each real block's share of its tile's tokens, so that tile means are
  // this matrix times the block means.
  Tensor tile_averaging;
};

// Cached for the process's life, as the layouts are (TileBlocks::for_tiling).
const DeviceTileBlocks& device_tile_blocks(const TileBlocks& blocks, Device device);

}  // namespace fastvideo::ops::cuda
