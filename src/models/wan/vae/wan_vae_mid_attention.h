// AttentionBlock(C) of the Wan VAE mid block (wan21.md §2.2): single-head self-attention over the
// H·W pixels of each frame independently (head_dim = C), with a residual connection.
#pragma once

#include <string>

#include "core/tensor.h"
#include "io/weights.h"
#include "models/wan/vae/row_band.h"

namespace fastvideo {

class WanVaeMidAttention {
 public:
  WanVaeMidAttention(const Weights& weights, const std::string& prefix);

  // x [B, T, H, W, C] (channels-last) -> same shape. Per frame, so chunking the time axis changes
  // nothing.
  // With `band`, x is this rank's band of rows: its pixels are the queries, and every pixel of the
  // frame (gathered from the ranks after the per-pixel norm, padding rows dropped) the keys.
  Tensor forward(const Tensor& x, const RowBand* band = nullptr) const;

 private:
  Tensor norm_gamma_;
  // to_qkv, a 1×1 Conv2d C -> 3C, as two linears: rows [0, C) make q, rows [C, 3C) make k and v.
  Tensor to_q_weight_, to_q_bias_;    // [C, C], [C]
  Tensor to_kv_weight_, to_kv_bias_;  // [2C, C], [2C]
  Tensor proj_weight_, proj_bias_;    // 1×1 Conv2d C -> C, held as a [C, C] linear
};

}  // namespace fastvideo
