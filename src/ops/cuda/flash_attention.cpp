// FLASH_ATTN kernel choice: the Hopper kernel where it runs, the portable one elsewhere.
#include "ops/cuda/flash_attention.h"

#include <cmath>
#include <cstdint>
#include <utility>

#include "core/cuda/cuda_context.h"
#include "fastvideo/error.h"

namespace fastvideo::ops::cuda {

namespace {

FlashAttentionKernel resolve(const Tensor& q, const Tensor& k, const Tensor& v,
                             FlashAttentionKernel kernel) {
  if (kernel != FlashAttentionKernel::Automatic) return kernel;
  return flash_attention_hopper_unsupported_reason(q, k, v).empty()
             ? FlashAttentionKernel::Hopper
             : FlashAttentionKernel::Portable;
}

// The device-independent part of the contract, shared by both kernels.
std::string contract_violation(const Tensor& q, const Tensor& k, const Tensor& v) {
  constexpr int64_t kHeadDim = 128;
  const std::pair<const char*, const Tensor*> inputs[] = {{"q", &q}, {"k", &k}, {"v", &v}};
  for (const auto& [name, t] : inputs) {
    if (!t->defined()) return str_cat(name, " is undefined");
    if (t->device().is_cpu()) return str_cat(name, " ", t->describe(), " is not on a CUDA device");
    if (t->device() != q.device())
      return str_cat(name, " is on ", t->device().name(), " but q on ", q.device().name());
    if (t->dtype() != DType::BF16 || t->ndim() != 4 || t->size(3) != kHeadDim)
      return str_cat(name, " is ", t->describe(), ", expected bf16[B,S,H,128]");
    if (!t->is_contiguous()) return str_cat(name, " ", t->describe(), " is not contiguous");
    if (reinterpret_cast<uintptr_t>(t->raw_data()) % 16 != 0)
      return str_cat(name, " ", t->describe(), " does not start 16-byte aligned");
  }
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2), Sk = k.size(1);
  if (k.size(0) != B || v.size(0) != B || k.size(2) != H || v.size(2) != H || v.size(1) != Sk)
    return str_cat("k ", k.describe(), " and v ", v.describe(), " must match q ", q.describe(),
                   " in batch and heads, and each other in length");
  if (Sq < 1 || Sk < 1 || B < 1 || H < 1)
    return str_cat("q ", q.describe(), " or k ", k.describe(), " is empty");
  // int32 sequence positions and work-tile indices, with room for the persistent loop's step.
  constexpr int64_t kMax = INT32_MAX / 2;
  if (Sq > kMax || Sk > kMax)
    return str_cat("sequence lengths ", Sq, " and ", Sk, " must be at most ", kMax);
  if (B * H * ((Sq + 127) / 128) > kMax)
    return str_cat("B·H·ceil(Sq/128) = ", B * H * ((Sq + 127) / 128), " work tiles exceed ", kMax);
  return {};
}

}  // namespace

std::string flash_attention_violation(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const FlashKernelNeeds& needs) {
  std::string why = contract_violation(q, k, v);
  if (!why.empty()) return why;
  const CudaDeviceInfo& info = CudaContext::get(q.device().index).info();
  const bool same = info.major == needs.min_major && info.minor == needs.min_minor;
  const bool newer = info.major > needs.min_major ||
                     (info.major == needs.min_major && info.minor > needs.min_minor);
  if (!(same || (!needs.exact_capability && newer)))
    return str_cat(needs.kernel, " needs compute capability ", needs.min_major, ".",
                   needs.min_minor, needs.exact_capability ? "" : " or newer", "; ", info.name,
                   " has ", info.major, ".", info.minor);
  if (info.shared_memory_per_block_optin < needs.shared_memory_bytes)
    return str_cat(needs.kernel, " needs ", needs.shared_memory_bytes,
                   " bytes of shared memory per block; ", info.name, " allows ",
                   info.shared_memory_per_block_optin);
  return {};
}

Tensor flash_attention_outputs(const char* entry, const std::string& violation, const Tensor& q,
                               float scale, Tensor* lse) {
  FV_CHECK(violation.empty(), entry, ": ", violation);
  FV_CHECK(scale > 0.f && std::isfinite(scale), entry, ": scale must be positive and finite, got ",
           scale);
  use_cuda_device(q.device().index);
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2);
  if (lse != nullptr) *lse = Tensor::empty({B, H, Sq}, DType::F32, q.device());
  return Tensor::empty({B, Sq, H, q.size(3)}, DType::BF16, q.device());
}

std::string flash_attention_unsupported_reason(const Tensor& q, const Tensor& k, const Tensor& v,
                                               FlashAttentionKernel kernel) {
  switch (kernel) {
    case FlashAttentionKernel::Hopper:
      return flash_attention_hopper_unsupported_reason(q, k, v);
    case FlashAttentionKernel::Portable:
      return flash_attention_portable_unsupported_reason(q, k, v);
    case FlashAttentionKernel::Automatic:
      break;
  }
  if (flash_attention_hopper_unsupported_reason(q, k, v).empty()) return {};
  return flash_attention_portable_unsupported_reason(q, k, v);
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
  return flash_attention_unsupported_reason(q, k, v, kernel).empty();
}

}  // namespace fastvideo::ops::cuda
