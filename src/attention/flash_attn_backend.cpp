#include "attention/flash_attn_backend.h"

#include "fastvideo/error.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "ops/cuda/flash_attention.h"
#endif

namespace fastvideo {

namespace {

// The kernel exists in CUDA builds: the Hopper path (src/ops/cuda/flash_attention_hopper.cu).
// The portable sm_80/sm_89 path of issue 4 is not written yet, so only sm_90 qualifies.
#ifdef FASTVIDEO_HAVE_CUDA
constexpr bool kFlashAttentionKernelInThisVersion = true;
#else
constexpr bool kFlashAttentionKernelInThisVersion = false;
#endif

constexpr const char* kNotInThisVersion =
    "this build has no CUDA backend, so no FLASH_ATTN kernel";

}  // namespace

bool flash_attention_kernel_available(const AttentionDevice& device) {
  return kFlashAttentionKernelInThisVersion && device.is_gpu() &&
         device.capability.major == 9 && device.capability.minor == 0;
}

const AttentionCapabilities& FlashAttnBackend::capabilities() const {
  // Our kernel today: Hopper (sm_90a: TMA, wgmma), bf16, head_dim 128. The portable sm_80 path
  // and head_dim 64 are still to come (issue 4 item 3).
  static const AttentionCapabilities caps{
      .cpu = false,
      .gpu = true,
      .min_compute = {9, 0},
      .max_compute = {9, 0},
      .gpu_requirement = "a Hopper GPU (compute capability 9.0: H100, H200)",
      .dtypes = {DType::BF16},
      .head_dims = {128},
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

Tensor FlashAttnBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                                 const AttentionMetadata*) const {
#ifdef FASTVIDEO_HAVE_CUDA
  if (!q.device().is_cpu()) {
    FV_CHECK(ops::cuda::flash_attention_supported(q, k, v),
             "attention backend FLASH_ATTN cannot take q ", q.describe(), ", k ", k.describe(),
             ", v ", v.describe(), " (it needs contiguous bf16 [B,S,H,128] on an sm_90 GPU)");
    return ops::cuda::flash_attention(q, k, v, scale);
  }
#endif
  fail("attention backend FLASH_ATTN cannot run on ", q.device().name(), ": ", kNotInThisVersion);
}

}  // namespace fastvideo
