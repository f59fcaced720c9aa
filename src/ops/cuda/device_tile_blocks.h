// The tile layouts on one GPU, uploaded once per layout and device: TileBlocks (ops/tile_blocks.h),
// what the portable tile-list route and VMoBA's gates hand the kernels, and TileRuns
// (ops/tile_runs.h), the Hopper tile-list route's gathers.
#pragma once

#include "core/tensor.h"
#include "ops/tile_blocks.h"
#include "ops/tile_runs.h"

namespace fastvideo::ops::cuda {

struct DeviceTileBlocks {
  Tensor token_of_slot, slot_of_token, block_sizes;  // I32, as in TileBlocks
  // F32 [N, num_blocks − 1]: each real block's share of its tile's tokens, so that tile means are
  // this matrix times the block means.
  Tensor tile_averaging;
};

// Cached for the process's life, as the layouts are (TileBlocks::for_tiling).
const DeviceTileBlocks& device_tile_blocks(const TileBlocks& blocks, Device device);

struct DeviceTileRuns {
  int64_t query_blocks = 0;
  Tensor token_of_query_row, tile_of_query_block, token_of_key_row;  // I32
  Tensor key_offset;                                                 // I32 [N + 1]
  size_t nbytes() const;
};

// A layout uploaded now (a grouped one: its owner keeps it as long as it keeps the layout).
DeviceTileRuns upload_tile_runs(const TileRuns& layout, Device device);
// TileRuns::for_tiling's layout, uploaded once per device and kept for the process's life.
const DeviceTileRuns& device_tile_runs(const TokenTiling& tiling, Device device);

}  // namespace fastvideo::ops::cuda
