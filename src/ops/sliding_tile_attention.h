// Sliding Tile Attention (STA), FastVideo's semantics (fastvideo.md §4.1, attention-algorithms.md
// §4): the (T, H, W) token grid is cut into 6×8×8 tiles of 384 tokens (smaller tiles at the far
// edge of an axis, where FastVideo's kernels allow only three canvases); each query tile attends
// densely to the key tiles inside a window of (k_t, k_h, k_w) tiles around it, the window's centre
// clamped so that it stays on the grid (FastVideo's Triton kernel's rule, below). Windows are per
// head (per denoising step and layer in a mask strategy, sliding_tile_mask_strategy.h).
//
// Tensors are in the engine's layout [B, S, H, D] with S = T·H·W tokens in raster (t, h, w) order.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ops/token_tiling.h"

namespace fastvideo {

inline constexpr std::array<int64_t, 3> kStaTile = {6, 8, 8};  // STA_base_tile_size

// A window in tiles along t, h, w (FastVideo's [t, h, w] entries of a mask strategy).
using StaWindow = std::array<int64_t, 3>;

// STA's tiling of a token grid in 6×8×8 boxes, cached per grid.
std::shared_ptr<const TokenTiling> sta_tiling_for(std::array<int64_t, 3> grid);

// The full window of a tiling: every tile on each axis.
StaWindow sta_full_window(const TokenTiling& tiling);

// "" when `window` fits the tiling (1 <= k <= tiles on every axis), else why not, naming the axis.
std::string sta_window_problem(const TokenTiling& tiling, const StaWindow& window);

// The key tiles of query tile `query_tile` under `window`, ascending. Per axis, with n tiles, the
// query at tile c0 and k = the window's extent (integer halves): the centre c is c0 clamped first
// to at most n − 1 − k/2, then to at least k/2 (FastVideo's Triton kernel, in that order); the keys
// are tiles [c − k/2, min(c + k/2 + 1, n)). So an odd k sees k tiles, an even k below n sees k + 1
// (the kernel's own arithmetic), and k = n sees all n.
std::vector<int32_t> sta_key_tiles(const TokenTiling& tiling, int64_t query_tile,
                                   const StaWindow& window);

// The key-tile lists of every (batch, head, query tile): I32 [B, H, N, L] on the CPU, L the longest
// list, shorter ones padded with -1; `windows` holds one window per head.
Tensor sta_tile_lists(const TokenTiling& tiling, int64_t batch,
                      std::span<const StaWindow> windows);

namespace ops {

// STA self-attention. q, k, v [B, S, H, D] with S = tiling.tokens; windows: one per head, each
// fitting the tiling. -> [B, S, H, D] in q's dtype. CPU: f32.
Tensor sliding_tile_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                              const TokenTiling& tiling, std::span<const StaWindow> windows,
                              float scale);

}  // namespace ops
}  // namespace fastvideo
