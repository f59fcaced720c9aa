// Video Sparse Attention (VSA), FastVideo's semantics (fastvideo.md §3, attention-algorithms.md
// §3): the (T, H, W) token grid is cut into 4×4×4 tiles of 64 tokens (smaller tiles at the far edge
// of an axis); a coarse attention over per-tile means picks, for every query tile, the top-k key
// tiles; the fine attention then runs over those tiles only; out = fine + G ⊙ coarse.
//
// Tensors are in the engine's layout [B, S, H, D] with S = T·H·W tokens in raster (t, h, w) order,
// or in tile order where the tiling says so (the transformer keeps its rows so under VSA).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "ops/block_selection.h"
#include "ops/token_tiling.h"

namespace fastvideo {

inline constexpr int64_t kVsaTileEdge = 4;  // VSA_TILE_SIZE = (4, 4, 4)
inline constexpr int64_t kVsaTileTokens = 64;

// VSA's tiling of a token grid (ops/token_tiling.h) in 4×4×4 boxes, cached per grid; with
// tile_order, over a sequence whose rows are in tile order (TokenTiling::tile_order).
using VsaTiling = TokenTiling;
std::shared_ptr<const VsaTiling> vsa_tiling_for(std::array<int64_t, 3> grid,
                                                bool tile_order = false);

// FastVideo's compute_topk: max(1, min(ceil((1 - sparsity)·N), N)). sparsity in [0, 1).
int64_t vsa_topk(double sparsity, int64_t num_tiles);

// A row of coarse scores selects its key tiles with select_top_blocks (ops/block_selection.h).

// What a VSA call decided, for tests and diagnostics: the scaled coarse scores [B, H, N, N] (f32)
// and the selected key tiles [B, H, N, topk] (I32, ascending per row).
struct VsaSelection {
  Tensor scores, selected;
};

namespace ops {

// VSA self-attention. q, k, v [B, S, H, D] with S = tiling.tokens; gate [B, S, H, D] or undefined
// (G = 0: the coarse branch only selects). -> [B, S, H, D] in q's dtype. CPU: f32 throughout.
// CUDA: BF16, head dim 64 or 128; tile means summed in fp32 and stored BF16, coarse attention in
// BF16 with fp32 accumulation and scores, fine attention bf16 with fp32 accumulation. When
// `selection` is given it receives the scores and selection.
Tensor video_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                              const VsaTiling& tiling, int64_t topk, float scale,
                              VsaSelection* selection = nullptr);

// Shape checks both implementations share; errors name the tensor and what was expected.
void check_video_sparse_attention_inputs(const Tensor& q, const Tensor& k, const Tensor& v,
                                         const Tensor& gate, const VsaTiling& tiling, int64_t topk);

namespace cpu {
Tensor video_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                              const VsaTiling& tiling, int64_t topk, float scale,
                              VsaSelection* selection);
}  // namespace cpu
namespace cuda {
Tensor video_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                              const VsaTiling& tiling, int64_t topk, float scale,
                              VsaSelection* selection);
}  // namespace cuda

}  // namespace ops
}  // namespace fastvideo
