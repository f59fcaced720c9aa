// The FLOPs of the Wan transformer, for the rates the benchmarks print (wan21.md §1.8).
#pragma once

#include "models/wan/dit/wan_transformer_config.h"
#include "models/wan/wan_geometry.h"

namespace fastvideo::bench {

// One block's FLOPs at `tokens` tokens, one CFG branch, counted as wan21.md §1.8 counts them: the
// cross-attention K/V over the 512 text rows included, though WanTransformer computes them once
// per prompt (prepare_text, outside a timed forward): 0.05 % of the total.
inline double dit_block_flop(const WanTransformerConfig& c, double tokens) {
  const double D = c.inner_dim(), F = c.ffn_dim, S = tokens, text = WanGeometry::kTextLength;
  return 8 * S * D * D + 4 * S * S * D + 4 * S * D * D + 4 * text * D * D + 4 * S * text * D +
         4 * S * D * F;
}

}  // namespace fastvideo::bench
