// The Hopper FLASH_ATTN kernel (flash_attention_hopper.cu) over runs of consecutive keys: each
// 128-row query block walks its list row's runs 176 or 192 keys a step, in the dense kernel's
// pipeline, masking each run's last step past the run's end. What the tile-list route (STA, VMoBA)
// runs on sm_90, on the layout of ops/tile_runs.h (tile_runs_attention: the gathers around it).
#pragma once

#include "core/tensor.h"
#include "ops/cuda/device_tile_blocks.h"

namespace fastvideo::ops::cuda {

// q [B, 128·Qb, H, 128], k, v [B, Sk, H, 128] BF16 contiguous on one sm_90 device; query block i
// of (b, h) takes the runs of list row (b, h, tile_of_block[i]) (tile_of_block I32 [Qb]): runs I32
// [B, H, N, R, 2] of key rows [begin, end) with end > begin, run_counts I32 [B, H, N], each
// 1 .. R, walked key_step (176 or 192) keys a step. Query row r's output goes to out [B, S, H, 128]
// BF16 row token_of_row[r] (I32 [128·Qb]), none where that is -1 (the untiling happens in the
// epilogue).
void hopper_key_runs_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& tile_of_block, const Tensor& token_of_row,
                               const Tensor& runs, const Tensor& run_counts, int key_step,
                               float scale, const Tensor& out);

// The key step (176 or 192) that computes fewer padded keys over runs and counts on the CPU (as
// tile_list_runs gives them); 176 on a tie, the dense kernel's.
int best_key_step(const Tensor& runs, const Tensor& run_counts);

// Whether `device` runs the key-runs kernel (sm_90): what the tile-list route and VMoBA's device
// selection ask before taking it.
bool hopper_tile_lists_here(Device device);

// Attention over a TileRuns layout's key runs (the layout on q's device): q, k, v BF16
// [B, S, H, 128] in raster order gathered into the layout (queries in 128-row blocks, keys
// packed), then the kernel above over runs I32 [B, H, N, R, 2] and run_counts I32 [B, H, N] on
// q's device -> [B, S, H, 128].
Tensor tile_runs_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const DeviceTileRuns& layout, const Tensor& runs,
                           const Tensor& run_counts, int key_step, float scale);

}  // namespace fastvideo::ops::cuda
