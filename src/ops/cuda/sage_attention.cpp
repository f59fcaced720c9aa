// SAGE_ATTN on a GPU (ops/sage_attention.h): the quantization pre-pass, then the Hopper kernel
// (ops/cuda/sage_kernels.h). Only sm_90 and head_dim 128 in this version; the portable sm_80/89
// path is not built yet.
#include "ops/sage_attention.h"

#include "core/cuda/cuda_context.h"
#include "ops/cuda/sage_kernels.h"

namespace fastvideo::ops::cuda {

Tensor sage_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
  const CudaDeviceInfo& info = CudaContext::get(q.device().index).info();
  FV_CHECK(info.major == 9 && info.minor == 0,
           "SAGE_ATTN on CUDA runs on sm_90 (H100/H200) in this version; ", info.name, " is sm_",
           info.major, info.minor);
  FV_CHECK(q.size(3) == kSageHeadDim, "SAGE_ATTN on CUDA supports head_dim ", kSageHeadDim,
           " in this version, got head_dim ", q.size(3), " (q ", q.describe(), ")");
  for (const Tensor* t : {&q, &k, &v}) {
    FV_CHECK(t->dtype() == DType::BF16 && t->is_contiguous(),
             "SAGE_ATTN on CUDA takes contiguous BF16 q, k, v, got ", t->describe());
  }
  const SageDeviceInputs in = sage_quantize(q, k, v, sage_q_multiplier(scale));
  Tensor out = Tensor::empty(q.shape(), DType::BF16, q.device());
  hopper_sage_attention(in, out);
  return out;
}

}  // namespace fastvideo::ops::cuda
