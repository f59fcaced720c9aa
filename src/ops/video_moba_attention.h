// Video MoBA attention (VMOBA_ATTN; fastvideo.md §4.2, attention-algorithms.md §6.2) at chunk
// granularity: tokens are grouped into chunks (a TokenTiling whose boxes are the layer's chunks),
// and each query chunk attends to its own chunk and the key chunks its gates select. A gate is the
// query chunk's mean query times the key chunk's mean key (unscaled, f32), per head; FastVideo
// gates every query token on its own, which no block-sparse kernel can run at speed, so here a
// chunk's queries share their selection (the (query block, chunk) granularity).
//
// Selection, per batch item, over the non-self (query chunk, key chunk) entries of a group:
//  - topk: each (head, query chunk) keeps its own chunk and its topk − 1 highest other gates
//    (topk counts the self chunk, as FastVideo adds 1e9 to it); equal gates in index order.
//    `overall` instead keeps the topk·H·N highest entries of the batch item, `head_global` the
//    topk·N highest of each head (self chunks always kept, on top).
//  - threshold (FastVideo's rule, moba_threshold τ): within a group the gates are min–max
//    normalised (n = (g − min)/d, d = 1 when d <= 1e-6); S_self = the self entries' sum of n, S =
//    the whole group's; r = max(0, τ − S_self/(S + 1e-6)); the non-self entries, highest n first
//    (equal in index order), are kept up to and including the first whose running sum of n over
//    (S + 1e-6) reaches r, or all when none does. Groups: `query_head` one (head, query chunk),
//    `block` one key chunk over all heads and query chunks, `overall` the whole batch item,
//    `head_global` one head.
// When no entry of a call keeps any other chunk, every query attends to every chunk (FastVideo
// then falls back to dense attention).
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/token_tiling.h"

namespace fastvideo {

enum class VmobaSelectMode { TopK, Threshold };
enum class VmobaThresholdType { QueryHead, Block, Overall, HeadGlobal };

struct VmobaRule {
  VmobaSelectMode mode = VmobaSelectMode::Threshold;
  int64_t topk = 1;
  double threshold = 0.25;
  VmobaThresholdType type = VmobaThresholdType::QueryHead;
};

namespace ops {

// Chunk gates: q, k [B, S, H, D] (S = tiling.tokens) -> F32 [B, H, N, N] on the CPU, entry
// (b, h, i, j) = mean q over chunk i · mean k over chunk j. On a GPU (BF16) computed there in f32
// and copied back.
Tensor vmoba_gates(const Tensor& q, const Tensor& k, const TokenTiling& tiling);

// The key chunks each (batch, head, query chunk) attends to under `rule`: I32 [B, H, N, N] on the
// CPU, ascending, padded with -1 (the layout tile_list_attention and the block-sparse kernels
// read).
Tensor vmoba_select(const Tensor& gates, const VmobaRule& rule);

// VMoBA self-attention: q, k, v [B, S, H, D] -> [B, S, H, D] in q's dtype. CPU: f32; GPU: bf16,
// head_dim 128; on sm_90 with query_head groups the selection runs on the GPU too
// (ops/cuda/vmoba_kernels.h), otherwise on the host from the GPU's gates, then the tile-list route
// (ops/tile_list_self_attention.h).
Tensor video_moba_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                            const TokenTiling& tiling, const VmobaRule& rule, float scale);

namespace cuda {
Tensor vmoba_gates(const Tensor& q, const Tensor& k, const TokenTiling& tiling);
}  // namespace cuda

}  // namespace ops
}  // namespace fastvideo
