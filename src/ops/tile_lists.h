// Tile lists, what STA's windows and VMoBA's chunks come down to: I32 [B, H, N, L], for each
// (batch, head, query tile) the key tiles it attends to, -1 entries ignored and order free. Every
// route that reads them (the CPU kernel, ops/tile_runs.h, ops/tile_blocks.h) checks them here.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace fastvideo {

// Contiguous I32 [B, H, num_tiles, L] on the CPU, each row naming at least one tile, each tile in
// 0 .. num_tiles − 1 and at most once (a tile named twice would count its keys twice); else an
// error naming `what`, the row's query tile and the tile.
void check_tile_lists(const Tensor& lists, int64_t num_tiles, const char* what);

}  // namespace fastvideo
