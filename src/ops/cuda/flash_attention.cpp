// FLASH_ATTN kernel choice: the Hopper kernel where it runs, the portable one elsewhere.
#include "ops/cuda/flash_attention.h"

#include "fastvideo/error.h"

namespace fastvideo::ops::cuda {

namespace {

FlashAttentionKernel resolve(const Tensor& q, const Tensor& k, const Tensor& v,
                             FlashAttentionKernel kernel) {
  if (kernel != FlashAttentionKernel::Automatic) return kernel;
  return flash_attention_hopper_supported(q, k, v) ? FlashAttentionKernel::Hopper
                                                   : FlashAttentionKernel::Portable;
}

}  // namespace

Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, Tensor* lse,
                       FlashAttentionKernel kernel) {
  switch (resolve(q, k, v, kernel)) {
    case FlashAttentionKernel::Hopper:
      return flash_attention_hopper(q, k, v, scale, lse);
    case FlashAttentionKernel::Portable:
      return flash_attention_portable(q, k, v, scale, lse);
    case FlashAttentionKernel::Automatic:
      break;
  }
  fail("flash_attention: unknown kernel choice ", int(kernel));
}

bool flash_attention_supported(const Tensor& q, const Tensor& k, const Tensor& v,
                               FlashAttentionKernel kernel) {
  switch (kernel) {
    case FlashAttentionKernel::Hopper:
      return flash_attention_hopper_supported(q, k, v);
    case FlashAttentionKernel::Portable:
      return flash_attention_portable_supported(q, k, v);
    case FlashAttentionKernel::Automatic:
      return flash_attention_hopper_supported(q, k, v) ||
             flash_attention_portable_supported(q, k, v);
  }
  return false;
}

}  // namespace fastvideo::ops::cuda
