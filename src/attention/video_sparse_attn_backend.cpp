#include "attention/video_sparse_attn_backend.h"

#include "fastvideo/error.h"

namespace fastvideo {

const AttentionCapabilities& VideoSparseAttnBackend::capabilities() const {
  static const AttentionCapabilities caps{
      .cpu = true,
      .gpu = true,
      .min_compute = {8, 0},
      .gpu_requirement = "an NVIDIA GPU of compute capability 8.0 or newer (A100, L40S, H100, ...)",
      .dtypes = {DType::BF16, DType::F32},
      .head_dims = {},  // the CPU's f32 path takes any
      .gpu_dtypes = {DType::BF16},
      .gpu_head_dims = {64,
                        128},  // 128 the kernels', 64 on them padded (ops/cuda/head_dim_padding.h)
      .self_attention = true,
      .cross_attention = false,
      .extra_weights = {"to_gate_compress"},
  };
  return caps;
}

AttentionBackendStatus VideoSparseAttnBackend::status(const AttentionDevice& device) const {
  AttentionBackendStatus s = kernel_hardware_status(name(), capabilities(), device);
  if (s.available()) {
    s.reason += device.is_gpu() ? (device.capability == ComputeCapability{9, 0}
                                       ? " with the Hopper block-sparse kernel (TMA + wgmma)"
                                       : " with the portable block-sparse kernel (mma.sync)")
                                : " (f32)";
    s.reason += "; used when asked for, never automatically (it changes the result)";
  }
  return s;
}

std::unique_ptr<AttentionMetadata> VideoSparseAttnBackend::build_metadata(
    const AttentionStepInfo& step) const {
  auto md = std::make_unique<VsaMetadata>();
  md->tiling = vsa_tiling_for(step.grid, /*tile_order=*/true);
  md->sparsity = step.sparsity;
  md->topk = vsa_topk(step.sparsity, md->tiling->num_tiles);
  return md;
}

Tensor VideoSparseAttnBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                       float scale, const AttentionMetadata* metadata,
                                       const AttentionExtras& extras) const {
  const auto* md = dynamic_cast<const VsaMetadata*>(metadata);
  FV_CHECK(md != nullptr,
           "VIDEO_SPARSE_ATTN needs the step's metadata (its token grid and sparsity): it runs "
           "the transformer's self-attention only");
  try {
    return ops::video_sparse_attention(q, k, v, extras.gate, *md->tiling, md->topk, scale);
  } catch (const Error& e) {
    e.rethrow_with_context("attention backend VIDEO_SPARSE_ATTN");
  }
}

}  // namespace fastvideo
