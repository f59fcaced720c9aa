#include "models/wan/vae/causal_conv3d.h"

#include <algorithm>
#include <vector>

#include "ops/channels_last.h"
#include "ops/tensor_ops.h"

namespace fastvideo {

CausalConv3d::CausalConv3d(const Weights& weights, const std::string& prefix, int64_t pad_t,
                           int64_t pad_h, int64_t pad_w)
    : name_(prefix),
      weight_(weights.get(prefix + ".weight")),
      bias_(weights.get(prefix + ".bias")),
      context_(2 * pad_t),
      pad_h_(pad_h),
      pad_w_(pad_w) {
  FV_CHECK(weight_.ndim() == 5 && weight_.size(2) == 2 * pad_t + 1, prefix,
           ".weight: expected [O,C,", 2 * pad_t + 1, ",kh,kw] for time padding ", pad_t, ", got ",
           weight_.describe());
  weight_ = ops::channels_last_weight(weight_);
}

Tensor CausalConv3d::forward(const Tensor& x) const {
  return ops::conv3d_ndhwc(x, weight_, bias_, {context_, 0, pad_h_, pad_w_});
}

Tensor CausalConv3d::forward(const Tensor& x, CausalConv3dCache& cache, const RowBand* band,
                             Bias with) const {
  const Tensor bias = with == Bias::Add ? bias_ : Tensor();
  const Tensor rows = band ? band->with_halo(x, pad_h_, /*h=*/2) : x;
  const int64_t pad_h = band ? 0 : pad_h_;  // a band's halo is its height padding
  if (context_ == 0) return ops::conv3d_ndhwc(rows, weight_, bias, {0, 0, pad_h, pad_w_});
  Tensor stream = rows;
  if (cache.tail.defined()) {
    const std::vector<Tensor> parts{cache.tail, rows};
    stream = ops::concat(parts, 1);
  }
  const int64_t history = stream.size(1) - rows.size(1);
  Tensor y = ops::conv3d_ndhwc(stream, weight_, bias, {context_ - history, 0, pad_h, pad_w_});
  const int64_t keep = std::min(context_, stream.size(1));
  // A copy: a view of the stream's last frames would keep the whole stream alive.
  cache.tail = stream.slice(1, stream.size(1) - keep, stream.size(1)).clone();
  return y;
}

}  // namespace fastvideo
