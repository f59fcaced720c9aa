#include "attention/flash_attn_backend.h"

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// Flip to true when ops::cuda::flash_attention(q, k, v, scale) is merged, and route
// FlashAttnBackend::forward to it (the one line marked below).
constexpr bool kFlashAttentionKernelInThisVersion = false;

constexpr const char* kNotInThisVersion = "the FLASH_ATTN kernel is not in this version yet";

}  // namespace

bool flash_attention_kernel_available(const AttentionDevice& device) {
  return kFlashAttentionKernelInThisVersion && device.is_gpu() &&
         ComputeCapability{8, 0} <= device.capability;
}

const AttentionCapabilities& FlashAttnBackend::capabilities() const {
  // fastvideo.md §2.3: FastVideo's FA path needs sm_80+ and fp16/bf16; our kernel does head_dim
  // 128 and 64 (issue 4 item 3).
  static const AttentionCapabilities caps{
      .cpu = false,
      .gpu = true,
      .min_compute = {8, 0},
      .gpu_requirement = "an NVIDIA GPU with compute capability 8.0 or newer",
      .dtypes = {DType::BF16, DType::F16},
      .head_dims = {64, 128},
      .self_attention = true,
      .cross_attention = true,
      .extra_weights = {},
  };
  return caps;
}

AttentionBackendStatus FlashAttnBackend::status(const AttentionDevice& device) const {
  if (!kFlashAttentionKernelInThisVersion) {
    return {AttentionBackendStatus::Kind::NotInThisVersion, kNotInThisVersion};
  }
  AttentionBackendStatus s = hardware_status(name(), capabilities(), device);
  if (s.available() && !flash_attention_kernel_available(device)) {
    return {AttentionBackendStatus::Kind::UnsupportedHardware,
            str_cat("FLASH_ATTN has no kernel for ", device.describe())};
  }
  return s;
}

Tensor FlashAttnBackend::forward(const Tensor& q, const Tensor&, const Tensor&, float,
                                 const AttentionMetadata*) const {
  // When the switch flips, this returns ops::cuda::flash_attention(q, k, v, scale).
  fail("attention backend FLASH_ATTN cannot run on ", q.device().name(), ": ", kNotInThisVersion);
}

}  // namespace fastvideo
