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
  if (cache.valid > 0) {
    const int64_t n = cache.frames.size(1);
    const std::vector<Tensor> parts{cache.frames.slice(1, n - cache.valid, n), rows};
    stream = ops::concat(parts, 1);
  }
  const int64_t history = stream.size(1) - rows.size(1);
  Tensor y = ops::conv3d_ndhwc(stream, weight_, bias, {context_ - history, 0, pad_h, pad_w_});
  // The stream's last frames into the buffer's last slots (a copy: a view of them would keep the
  // whole stream alive). The concatenation above has read the old ones by then: same stream.
  const int64_t keep = std::min(context_, stream.size(1));
  Shape shape = rows.shape();
  shape[1] = std::max(keep, cache.frames.defined() ? cache.frames.size(1) : 0);
  if (!cache.frames.defined() || cache.frames.shape() != shape ||
      cache.frames.dtype() != rows.dtype() || cache.frames.device() != rows.device()) {
    cache.frames = Tensor::empty(shape, rows.dtype(), rows.device());
  }
  const int64_t n = cache.frames.size(1);
  cache.frames.slice(1, n - keep, n)
      .copy_from(stream.slice(1, stream.size(1) - keep, stream.size(1)));
  cache.valid = keep;
  return y;
}

}  // namespace fastvideo
