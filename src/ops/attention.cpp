// Device dispatch for src/ops/attention.h: CPU twin or CUDA kernel by the input's device.
#include "ops/attention.h"

#include "ops/dispatch.h"

namespace fastvideo::ops {

void check_attention_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias) {
  FV_CHECK(q.ndim() == 4 && k.ndim() == 4 && v.ndim() == 4,
           "attention: expected [B,S,H,D] tensors, got q ", q.describe(), ", k ", k.describe(),
           ", v ", v.describe());
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t Sk = k.size(1);
  FV_CHECK(k.size(0) == B && k.size(2) == H && k.size(3) == D, "attention: k ", k.describe(),
           " does not match q ", q.describe());
  FV_CHECK(v.size(0) == B && v.size(1) == Sk && v.size(2) == H, "attention: v ", v.describe(),
           " does not match k ", k.describe());
  if (bias.defined()) {
    const int64_t expected[] = {H, Sq, Sk};
    check_shape(bias, expected, "attention bias");
  }
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias) {
  return FV_DISPATCH(q.device(), attention(q, k, v, scale, bias));
}

}  // namespace fastvideo::ops
