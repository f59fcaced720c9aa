#include "models/wan/vae/wan_residual_block.h"

#include "ops/channels_last.h"

namespace fastvideo {

WanResidualBlock::WanResidualBlock(const Weights& weights, const std::string& prefix,
                                   int64_t in_dim, int64_t out_dim)
    : norm1_gamma_(weights.get(prefix + ".norm1.gamma").to(DType::F32)),
      norm2_gamma_(weights.get(prefix + ".norm2.gamma").to(DType::F32)),
      conv1_(weights, prefix + ".conv1", 1, 1, 1),
      conv2_(weights, prefix + ".conv2", 1, 1, 1),
      conv1_bias_(conv1_.bias().to(DType::F32)),
      conv2_bias_(conv2_.bias().to(DType::F32)) {
  if (in_dim != out_dim) conv_shortcut_.emplace(weights, prefix + ".conv_shortcut", 0, 0, 0);
}

Tensor WanResidualBlock::forward(const Tensor& x, Cache& cache, const RowBand* band) const {
  const Tensor shortcut = conv_shortcut_ ? conv_shortcut_->forward(x) : x;
  Tensor h = ops::rms_norm_silu_ndhwc(x, norm1_gamma_);
  // Each conv's bias is added by the op after it, not in a pass of its own. Dropout is the
  // identity at inference.
  using Bias = CausalConv3d::Bias;
  h = conv1_.forward(h, cache.conv1, band, Bias::Leave);
  h = ops::rms_norm_silu_ndhwc(h, norm2_gamma_, conv1_bias_);
  h = conv2_.forward(h, cache.conv2, band, Bias::Leave);
  return ops::add_bias_residual_ndhwc(h, conv2_bias_, shortcut);
}

}  // namespace fastvideo
