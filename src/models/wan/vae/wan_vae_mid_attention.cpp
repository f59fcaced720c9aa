#include "models/wan/vae/wan_vae_mid_attention.h"

#include <cmath>

#include "ops/attention.h"
#include "ops/channel_norm.h"
#include "ops/elementwise.h"
#include "ops/linear.h"

namespace fastvideo {

namespace {

// A 1×1 Conv2d weight [O, C, 1, 1] is a linear map over channels.
Tensor as_linear(const Tensor& conv_weight) {
  return conv_weight.contiguous().reshape({conv_weight.size(0), conv_weight.size(1)});
}

}  // namespace

WanVaeMidAttention::WanVaeMidAttention(const Weights& weights, const std::string& prefix)
    : norm_gamma_(weights.get(prefix + ".norm.gamma")),
      to_qkv_weight_(as_linear(weights.get(prefix + ".to_qkv.weight"))),
      to_qkv_bias_(weights.get(prefix + ".to_qkv.bias")),
      proj_weight_(as_linear(weights.get(prefix + ".proj.weight"))),
      proj_bias_(weights.get(prefix + ".proj.bias")) {}

Tensor WanVaeMidAttention::forward(const Tensor& x) const {
  FV_CHECK(x.ndim() == 5, "WanVaeMidAttention: expected [B,C,T,H,W], got ", x.describe());
  const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
  // Each frame is one attention batch item whose tokens are its pixels, channels last.
  const Tensor tokens = ops::rms_norm_channels(x, norm_gamma_)
                            .permute({0, 2, 3, 4, 1})
                            .contiguous()
                            .reshape({B * T, H * W, C});
  const Tensor qkv = ops::linear(tokens, to_qkv_weight_, to_qkv_bias_);  // [BT, HW, 3C]
  // q, k, v are the channel slices [0,C), [C,2C), [2C,3C); one head of width C.
  const Tensor q = qkv.slice(2, 0, C).unsqueeze(2);
  const Tensor k = qkv.slice(2, C, 2 * C).unsqueeze(2);
  const Tensor v = qkv.slice(2, 2 * C, 3 * C).unsqueeze(2);
  const Tensor o = ops::attention(q, k, v, float(1.0 / std::sqrt(double(C))));
  const Tensor y = ops::linear(o.reshape({B * T, H * W, C}), proj_weight_, proj_bias_);
  return ops::add(y.reshape({B, T, H, W, C}).permute({0, 4, 1, 2, 3}).contiguous(), x);
}

}  // namespace fastvideo
