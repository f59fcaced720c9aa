#include "models/wan/vae/causal_conv3d.h"

#include <algorithm>
#include <vector>

#include "ops/conv.h"
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
}

Tensor CausalConv3d::forward(const Tensor& x) const {
  return ops::conv3d(x, weight_, bias_, {context_, 0, pad_h_, pad_w_});
}

Tensor CausalConv3d::forward(const Tensor& x, CausalConv3dCache& cache, const RowBand* band) const {
  const Tensor rows = band ? band->with_halo(x, pad_h_) : x;
  const int64_t pad_h = band ? 0 : pad_h_;  // a band's halo is its height padding
  if (context_ == 0) return ops::conv3d(rows, weight_, bias_, {0, 0, pad_h, pad_w_});
  Tensor stream = rows;
  if (cache.tail.defined()) {
    const std::vector<Tensor> parts{cache.tail, rows};
    stream = ops::concat(parts, 2);
  }
  const int64_t history = stream.size(2) - rows.size(2);
  Tensor y = ops::conv3d(stream, weight_, bias_, {context_ - history, 0, pad_h, pad_w_});
  const int64_t keep = std::min(context_, stream.size(2));
  cache.tail = stream.slice(2, stream.size(2) - keep, stream.size(2)).contiguous();
  return y;
}

}  // namespace fastvideo
