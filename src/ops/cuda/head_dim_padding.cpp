#include "ops/cuda/head_dim_padding.h"

#include "fastvideo/error.h"

namespace fastvideo::ops::cuda {

Tensor pad_head_dim(const Tensor& x) {
  if (!x.defined()) return x;
  FV_CHECK(x.ndim() == 4 && x.size(3) <= kPaddedHeadDim,
           "pad_head_dim: expected [B, S, H, D] with D <= ", kPaddedHeadDim, ", got ",
           x.describe());
  Shape shape = x.shape();
  shape[3] = kPaddedHeadDim;
  Tensor padded = Tensor::zeros(shape, x.dtype(), x.device());
  padded.slice(3, 0, x.size(3)).copy_from(x);
  return padded;
}

Tensor unpad_head_dim(const Tensor& out, int64_t head_dim) {
  return out.slice(3, 0, head_dim).contiguous();
}

}  // namespace fastvideo::ops::cuda
