// ResidualBlock(in, out) of the Wan VAE (wan21.md §2.2):
//   x + shortcut → norm1 → SiLU → conv1 (3×3×3 causal) → norm2 → SiLU → conv2 (3×3×3 causal),
// shortcut a 1×1×1 conv when in ≠ out, else the identity.
#pragma once

#include <optional>
#include <string>

#include "models/wan/vae/causal_conv3d.h"

namespace fastvideo {

class WanResidualBlock {
 public:
  struct Cache {
    CausalConv3dCache conv1, conv2;
  };

  WanResidualBlock(const Weights& weights, const std::string& prefix, int64_t in_dim,
                   int64_t out_dim);

  // x [B, T, H, W, in] (channels-last) is the next chunk of a frame stream -> [B, T, H, W, out].
  // With `band`, x is this rank's band of rows (CausalConv3d::forward); the norms are per pixel,
  // so stay local.
  Tensor forward(const Tensor& x, Cache& cache, const RowBand* band = nullptr) const;

 private:
  // The norms' gammas and the convs' biases in F32, as the norm and residual-add kernels read
  // them (converted once here, not on every call).
  Tensor norm1_gamma_, norm2_gamma_;
  CausalConv3d conv1_, conv2_;
  Tensor conv1_bias_, conv2_bias_;
  std::optional<CausalConv3d> conv_shortcut_;
};

}  // namespace fastvideo
