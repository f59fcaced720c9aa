#include "models/wan/vae/wan_vae_mid_attention.h"

#include <cmath>

#include "ops/attention.h"
#include "ops/channels_last.h"
#include "ops/elementwise.h"
#include "ops/linear.h"

namespace fastvideo {

namespace {

// Each frame is one attention batch item whose tokens are its pixels: [B, T, H, W, C] ->
// [B·T, H·W, C], a view.
Tensor pixel_tokens(const Tensor& x) {
  return x.contiguous().reshape({x.size(0) * x.size(1), x.size(2) * x.size(3), x.size(4)});
}

}  // namespace

WanVaeMidAttention::WanVaeMidAttention(const Weights& weights, const std::string& prefix)
    : norm_gamma_(weights.get(prefix + ".norm.gamma").to(DType::F32)),
      proj_weight_(ops::pointwise_as_linear(weights.get(prefix + ".proj.weight"))),
      proj_bias_(weights.get(prefix + ".proj.bias")) {
  const Tensor qkv_weight = ops::pointwise_as_linear(weights.get(prefix + ".to_qkv.weight"));
  const Tensor qkv_bias = weights.get(prefix + ".to_qkv.bias");
  const int64_t C = qkv_weight.size(1);
  to_q_weight_ = qkv_weight.slice(0, 0, C).contiguous();
  to_q_bias_ = qkv_bias.slice(0, 0, C).contiguous();
  to_kv_weight_ = qkv_weight.slice(0, C, 3 * C).contiguous();
  to_kv_bias_ = qkv_bias.slice(0, C, 3 * C).contiguous();
}

Tensor WanVaeMidAttention::forward(const Tensor& x, const RowBand* band) const {
  FV_CHECK(x.ndim() == 5, "WanVaeMidAttention: expected [B,T,H,W,C], got ", x.describe());
  const int64_t B = x.size(0), T = x.size(1), H = x.size(2), W = x.size(3), C = x.size(4);
  const Tensor normed = ops::rms_norm_ndhwc(x, norm_gamma_);
  const Tensor tokens = pixel_tokens(normed);  // [BT, HW, C]
  const Tensor q = ops::linear(tokens, to_q_weight_, to_q_bias_);
  // k and v are the channel slices [0,C), [C,2C) of to_kv's output over every pixel of the frame:
  // in a band, gathered from the ranks after the norm (per pixel, so local).
  const Tensor frame = band ? pixel_tokens(band->gather(normed, /*h=*/2)) : tokens;
  const Tensor kv = ops::linear(frame, to_kv_weight_, to_kv_bias_);
  const Tensor k = kv.slice(2, 0, C).unsqueeze(2);
  const Tensor v = kv.slice(2, C, 2 * C).unsqueeze(2);
  // One head of width C.
  const Tensor o = ops::attention(q.unsqueeze(2), k, v, float(1.0 / std::sqrt(double(C))));
  const Tensor y = ops::linear(o.reshape({B * T, H * W, C}), proj_weight_, proj_bias_);
  return ops::add(y.reshape({B, T, H, W, C}), x);
}

}  // namespace fastvideo
