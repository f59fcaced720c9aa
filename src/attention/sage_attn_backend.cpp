#include "attention/sage_attn_backend.h"

#include "fastvideo/error.h"
#include "ops/sage_attention.h"

namespace fastvideo {

const AttentionCapabilities& SageAttnBackend::capabilities() const {
  static const AttentionCapabilities caps{
      .cpu = true,
      .gpu = false,
      .min_compute = {8, 0},
      .gpu_requirement = "the CPU in this version (its CUDA kernel, for Hopper, is not built yet)",
      .dtypes = {DType::F32, DType::BF16},
      .head_dims = {64, 128},
      .self_attention = true,
      .cross_attention = false,
      .extra_weights = {},
  };
  return caps;
}

AttentionBackendStatus SageAttnBackend::status(const AttentionDevice& device) const {
  if (device.is_gpu()) {
    return {AttentionBackendStatus::Kind::NotInThisVersion,
            "SAGE_ATTN on CUDA is not built yet: in this version it runs on the CPU only (the "
            "reference its Hopper kernel will be checked against)"};
  }
  return {AttentionBackendStatus::Kind::Available,
          "runs on the CPU (INT8 Q·K, FP8 P·V, computed in f32); used when asked for, never "
          "automatically (it changes the result)"};
}

Tensor SageAttnBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                                const AttentionMetadata*, const AttentionExtras&) const {
  // Self-attention has one sequence for q and k; a different key count is cross-attention (Wan's
  // 512 text tokens), which FastVideo keeps on a dense backend (fastvideo.md §4.5).
  FV_CHECK(k.size(1) == q.size(1), "SAGE_ATTN runs the DiT's self-attention only: q has ",
           q.size(1), " tokens but k has ", k.size(1),
           " (cross-attention runs on a dense backend)");
  FV_CHECK(q.device().is_cpu(), "SAGE_ATTN on CUDA is not built yet (q is on ", q.device().name(),
           "): in this version it runs on the CPU only");
  try {
    return ops::sage_attention(q, k, v, scale);
  } catch (const Error& e) {
    throw e.with_context("attention backend SAGE_ATTN");
  }
}

}  // namespace fastvideo
