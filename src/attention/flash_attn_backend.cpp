#include "attention/flash_attn_backend.h"

#include "fastvideo/error.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "ops/cuda/flash_attention.h"
#endif

namespace fastvideo {

namespace {

// The kernels exist in CUDA builds (src/ops/cuda/flash_attention_hopper.cu and
// flash_attention_portable.cu).
#ifdef FASTVIDEO_HAVE_CUDA
constexpr bool kFlashAttentionKernelInThisVersion = true;
#else
constexpr bool kFlashAttentionKernelInThisVersion = false;
#endif

constexpr const char* kNotInThisVersion = "this build has no CUDA backend, so no FLASH_ATTN kernel";

constexpr ComputeCapability kHopper{9, 0};

}  // namespace

const AttentionCapabilities& FlashAttnBackend::capabilities() const {
  static const AttentionCapabilities caps{
      .cpu = false,
      .gpu = true,
      .min_compute = {8, 0},
      .gpu_requirement = "an NVIDIA GPU of compute capability 8.0 or newer (A100, L40S, H100, ...)",
      .dtypes = {DType::BF16},
      .head_dims = {128},
      .gpu_dtypes = {},
      .gpu_head_dims = {},
      .self_attention = true,
      .cross_attention = true,
      .extra_weights = {},
  };
  return caps;
}

// Automatic only where the Hopper kernel runs: it beats cuDNN there (docs/perf.md). The portable
// kernel is FA2-class, slower than cuDNN on the one card it was measured on (an H100/H200), and
// unmeasured on Ampere/Ada, so there the automatic choice stays TORCH_SDPA; asking for FLASH_ATTN
// still runs it.
bool FlashAttnBackend::chosen_automatically_on(const AttentionDevice& device) const {
  return device.is_gpu() && device.capability == kHopper;
}

AttentionBackendStatus FlashAttnBackend::status(const AttentionDevice& device) const {
  if (!kFlashAttentionKernelInThisVersion) {
    return {AttentionBackendStatus::Kind::NotInThisVersion, kNotInThisVersion};
  }
  AttentionBackendStatus s = hardware_status(name(), capabilities(), device);
  if (s.available()) {
    s.reason += device.capability == kHopper ? " with the Hopper kernel (TMA + wgmma)"
                                             : " with the portable kernel (mma.sync)";
    s.reason += chosen_automatically_on(device) ? "; chosen automatically"
                                                : "; used when asked for, not automatically";
  }
  return s;
}

Tensor FlashAttnBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                                 const AttentionMetadata*, const AttentionExtras&) const {
#ifdef FASTVIDEO_HAVE_CUDA
  if (!q.device().is_cpu()) {
    // The plan (kernel choice and checks) is made once per shape and cached.
    try {
      return ops::cuda::flash_attention(q, k, v, scale);
    } catch (const Error& e) {
      e.rethrow_with_context("attention backend FLASH_ATTN");
    }
  }
#endif
  fail("attention backend FLASH_ATTN cannot run on ", q.device().name(), ": ", kNotInThisVersion);
}

}  // namespace fastvideo
