#include "attention/sage_attn_backend.h"

#include "fastvideo/error.h"
#include "ops/sage_attention.h"

namespace fastvideo {

const AttentionCapabilities& SageAttnBackend::capabilities() const {
  static const AttentionCapabilities caps{
      .cpu = true,
      .gpu = true,
      .min_compute = {8, 0},
      .max_compute = {9, 0},
      .gpu_requirement = "an sm_80 .. sm_90 GPU (A100, RTX 30xx/40xx, L40S, H100, H200)",
      .dtypes = {DType::F32, DType::BF16},
      .head_dims = {64, 128},
      .gpu_dtypes = {DType::BF16},  // its pre-pass reads BF16 (ops/cuda/sage_attention.cpp)
      .gpu_head_dims = {},  // 128 its kernels', 64 on them padded (ops/cuda/head_dim_padding.h)
      .self_attention = true,
      .cross_attention = false,
      .extra_weights = {},
  };
  return caps;
}

AttentionBackendStatus SageAttnBackend::status(const AttentionDevice& device) const {
  AttentionBackendStatus s = kernel_hardware_status(name(), capabilities(), device);
  if (s.kind == AttentionBackendStatus::Kind::NotInThisVersion) return s;
  if (device.is_gpu() && device.capability.major > 9) {
    // The Hopper kernel is sm_90a code, and the portable one has not been run on Blackwell.
    return {AttentionBackendStatus::Kind::NotInThisVersion,
            "SAGE_ATTN's GPU kernels are built and checked for sm_80 .. sm_90; " +
                device.describe() + " cannot run them (SAGE_ATTN_THREE is the Blackwell variant)"};
  }
  if (s.available()) {
    if (!device.is_gpu()) {
      s.reason += " (INT8 Q·K, FP8 P·V, computed in f32)";
    } else {
      switch (sage_kernel_for(device.capability.major, device.capability.minor)) {
        case SageKernel::Hopper:
          s.reason += " with its Hopper kernel (INT8 wgmma Q·K, E4M3 wgmma P·V";
          break;
        case SageKernel::PortableFp8:
          s.reason += " with its portable kernel (INT8 mma.sync Q·K, E4M3 mma.sync P·V";
          break;
        default:
          s.reason += " with its portable kernel (INT8 mma.sync Q·K, FP16 mma.sync P·V";
          break;
      }
      s.reason += "; BF16, head_dim 128, or 64 zero-padded to 128)";
    }
    s.reason += "; used when asked for, never automatically (it changes the result)";
  }
  return s;
}

Tensor SageAttnBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                                const AttentionMetadata*, const AttentionExtras&) const {
  // Self-attention has one sequence for q and k; a different key count is cross-attention (Wan's
  // 512 text tokens), which FastVideo keeps on a dense backend (fastvideo.md §4.5).
  FV_CHECK(k.size(1) == q.size(1), "SAGE_ATTN runs the DiT's self-attention only: q has ",
           q.size(1), " tokens but k has ", k.size(1),
           " (cross-attention runs on a dense backend)");
  try {
    return ops::sage_attention(q, k, v, scale);
  } catch (const Error& e) {
    e.rethrow_with_context("attention backend SAGE_ATTN");
  }
}

}  // namespace fastvideo
