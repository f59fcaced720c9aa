// ops::cuda::attention: cuDNN's fused flash attention where it takes the case, the GEMM + softmax
// path otherwise (attention_backend.h says which cases go where).
#include "ops/attention.h"

#include "core/cuda/cuda_context.h"
#include "ops/cuda/attention_backend.h"

namespace fastvideo::ops::cuda {

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias) {
  check_attention_inputs(q, k, v, bias);
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2);
  const int64_t Sk = k.size(1), Dv = v.size(3);
  FV_CHECK(k.device() == q.device() && v.device() == q.device(),
           "attention: q, k and v must be on one device, got ", q.describe(), ", ", k.describe(),
           ", ", v.describe());
  FV_CHECK(Sk > 0, "attention: no keys to attend to (k ", k.describe(), ")");
  if (bias.defined()) {
    FV_CHECK(bias.device() == q.device(), "attention: bias ", bias.describe(),
             " is not on q's device ", q.device().name());
  }
  use_cuda_device(q.device().index);
  Tensor out = Tensor::empty({B, Sq, H, Dv}, q.dtype(), q.device());
  if (out.numel() == 0) return out;
  if (cudnn_sdpa(q, k, v, scale, bias, out)) return out;
  gemm_softmax_attention(q, k, v, scale, bias, out);
  return out;
}

}  // namespace fastvideo::ops::cuda
