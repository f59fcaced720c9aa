// FLASH_ATTN kernel choice: the Hopper kernel where it runs, the portable one elsewhere.
#include "ops/cuda/flash_attention.h"

#include <cstdint>

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

bool flash_attention_contract_holds(const Tensor& q, const Tensor& k, const Tensor& v) {
  constexpr int64_t kHeadDim = 128;
  for (const Tensor* t : {&q, &k, &v}) {
    if (!t->defined() || t->ndim() != 4 || t->dtype() != DType::BF16 || !t->is_contiguous() ||
        t->device().is_cpu() || t->device() != q.device() || t->size(3) != kHeadDim ||
        reinterpret_cast<uintptr_t>(t->raw_data()) % 16 != 0)
      return false;
  }
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2), Sk = k.size(1);
  if (k.size(0) != B || v.size(0) != B || k.size(2) != H || v.size(2) != H || v.size(1) != Sk)
    return false;
  if (Sq < 1 || Sk < 1 || B < 1 || H < 1 || Sq > INT32_MAX / 2 || Sk > INT32_MAX / 2) return false;
  return true;
}

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
