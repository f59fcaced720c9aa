// FLASH_ATTN planning (the kernel choice and every check that depends on the shape or the device,
// once per device and shape) and running (per call: the inputs fit the plan).
#include "ops/cuda/flash_attention.h"

#include <cmath>
#include <compare>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "core/cuda/cuda_context.h"
#include "fastvideo/error.h"
#include "ops/cuda/flash_attention_kernels.h"

namespace fastvideo::ops::cuda {

namespace {

// What each input must be, whatever the shape: checked on every run (no device queries).
std::string tensor_violation(const Tensor& q, const Tensor& k, const Tensor& v) {
  const std::pair<const char*, const Tensor*> inputs[] = {{"q", &q}, {"k", &k}, {"v", &v}};
  for (const auto& [name, t] : inputs) {
    if (!t->defined()) return str_cat(name, " is undefined");
    if (t->device().is_cpu()) return str_cat(name, " ", t->describe(), " is not on a CUDA device");
    if (t->device() != q.device())
      return str_cat(name, " is on ", t->device().name(), " but q on ", q.device().name());
    if (t->dtype() != DType::BF16 || t->ndim() != 4 || t->size(3) != kFlashHeadDim)
      return str_cat(name, " is ", t->describe(), ", expected bf16[B,S,H,", kFlashHeadDim, "]");
    if (!t->is_contiguous()) return str_cat(name, " ", t->describe(), " is not contiguous");
    if (reinterpret_cast<uintptr_t>(t->raw_data()) % 16 != 0)
      return str_cat(name, " ", t->describe(), " does not start 16-byte aligned");
  }
  return {};
}

// How the inputs' shapes must relate: checked once per plan.
std::string shape_violation(const Tensor& q, const Tensor& k, const Tensor& v) {
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

// Why `kernel` cannot run on the device `info` describes; empty when it can.
std::string device_violation(const FlashKernel& kernel, const CudaDeviceInfo& info) {
  const bool same = info.major == kernel.min_major && info.minor == kernel.min_minor;
  const bool newer = info.major > kernel.min_major ||
                     (info.major == kernel.min_major && info.minor > kernel.min_minor);
  if (!(same || (!kernel.exact_capability && newer)))
    return str_cat(kernel.name, " needs compute capability ", kernel.min_major, ".",
                   kernel.min_minor, kernel.exact_capability ? "" : " or newer", "; ", info.name,
                   " has ", info.major, ".", info.minor);
  if (info.shared_memory_per_block_optin < kernel.shared_memory_bytes)
    return str_cat(kernel.name, " needs ", kernel.shared_memory_bytes,
                   " bytes of shared memory per block; ", info.name, " allows ",
                   info.shared_memory_per_block_optin);
  return {};
}

const FlashKernel& kernel_of(FlashAttentionKernel kernel) {
  return kernel == FlashAttentionKernel::Hopper ? hopper_flash_kernel() : portable_flash_kernel();
}

// The kernel for these inputs, or why there is none.
std::pair<FlashAttentionKernel, std::string> choose(const Tensor& q, const Tensor& k,
                                                    const Tensor& v,
                                                    FlashAttentionKernel requested) {
  std::string why = tensor_violation(q, k, v);
  if (why.empty()) why = shape_violation(q, k, v);
  if (!why.empty()) return {requested, why};
  const CudaDeviceInfo& info = CudaContext::get(q.device().index).info();
  if (requested == FlashAttentionKernel::Automatic) {
    requested = device_violation(hopper_flash_kernel(), info).empty()
                    ? FlashAttentionKernel::Hopper
                    : FlashAttentionKernel::Portable;
  }
  return {requested, device_violation(kernel_of(requested), info)};
}

struct PlanKey {
  int device;
  int64_t batch, heads, q_len, kv_len;
  FlashAttentionKernel requested;
  auto operator<=>(const PlanKey&) const = default;
};

}  // namespace

const FlashAttentionPlan& plan_flash_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                               FlashAttentionKernel kernel) {
  const std::string why = tensor_violation(q, k, v);
  FV_CHECK(why.empty(), "flash_attention: ", why);
  const PlanKey key{q.device().index, q.size(0), q.size(2), q.size(1), k.size(1), kernel};
  static std::mutex mutex;
  static std::map<PlanKey, FlashAttentionPlan> plans;  // entries never move: references stay valid
  std::lock_guard lock(mutex);
  if (auto it = plans.find(key); it != plans.end()) return it->second;

  const auto [chosen, reason] = choose(q, k, v, kernel);
  FV_CHECK(reason.empty(), "flash_attention: ", reason);
  FlashAttentionPlan plan{chosen, key.device, key.batch, key.heads, key.q_len, key.kv_len, 0};
  CudaContext& ctx = use_cuda_device(plan.device);
  const FlashKernel& impl = kernel_of(chosen);
  impl.prepare();
  plan.grid = impl.grid(plan, ctx.info().sm_count);
  return plans.emplace(key, plan).first->second;
}

Tensor flash_attention(const FlashAttentionPlan& plan, const Tensor& q, const Tensor& k,
                       const Tensor& v, float scale, Tensor* lse) {
  const std::string why = tensor_violation(q, k, v);
  FV_CHECK(why.empty(), "flash_attention: ", why);
  const int64_t B = plan.batch, Sq = plan.q_len, H = plan.heads;
  FV_CHECK(q.device().index == plan.device && q.size(0) == B && q.size(1) == Sq && q.size(2) == H &&
               k.size(0) == B && k.size(1) == plan.kv_len && k.size(2) == H &&
               v.shape() == k.shape(),
           "flash_attention: q ", q.describe(), ", k ", k.describe(), " and v ", v.describe(),
           " do not fit the plan for B=", B, " Sq=", Sq, " Sk=", plan.kv_len, " H=", H,
           " on cuda:", plan.device);
  FV_CHECK(scale > 0.f && std::isfinite(scale),
           "flash_attention: scale must be positive and finite, got ", scale);
  use_cuda_device(plan.device);
  if (lse != nullptr) *lse = Tensor::empty({B, H, Sq}, DType::F32, q.device());
  Tensor out = Tensor::empty({B, Sq, H, kFlashHeadDim}, DType::BF16, q.device());
  kernel_of(plan.kernel)
      .launch(plan, q, k, v, scale, out, lse != nullptr ? lse->data<float>() : nullptr);
  return out;
}

Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale, Tensor* lse,
                       FlashAttentionKernel kernel) {
  return flash_attention(plan_flash_attention(q, k, v, kernel), q, k, v, scale, lse);
}

std::string flash_attention_unsupported_reason(const Tensor& q, const Tensor& k, const Tensor& v,
                                               FlashAttentionKernel kernel) {
  return choose(q, k, v, kernel).second;
}

bool flash_attention_supported(const Tensor& q, const Tensor& k, const Tensor& v,
                               FlashAttentionKernel kernel) {
  return flash_attention_unsupported_reason(q, k, v, kernel).empty();
}

}  // namespace fastvideo::ops::cuda
