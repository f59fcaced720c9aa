#include "attention/sla_attn_backend.h"

#include "fastvideo/error.h"

namespace fastvideo {

const AttentionCapabilities& SlaAttnBackend::capabilities() const {
  static const AttentionCapabilities caps{
      .cpu = true,
      .gpu = false,
      .min_compute = {8, 0},
      .gpu_requirement = "the CPU in this version (its CUDA kernels are not built yet)",
      .dtypes = {DType::F32},
      .head_dims = {64, 128},
      .self_attention = true,
      .cross_attention = false,
      .extra_weights = {"proj_l"},
  };
  return caps;
}

AttentionBackendStatus SlaAttnBackend::status(const AttentionDevice& device) const {
  if (device.is_gpu()) {
    return {AttentionBackendStatus::Kind::NotInThisVersion,
            "SLA_ATTN is not available in this version on GPUs: it runs on the CPU (f32) only, "
            "its CUDA kernels are not built yet"};
  }
  return {AttentionBackendStatus::Kind::Available,
          "runs on the CPU (f32); used when asked for, never automatically (it changes the "
          "result)"};
}

std::unique_ptr<AttentionMetadata> SlaAttnBackend::build_metadata(
    const AttentionStepInfo& step) const {
  auto md = std::make_unique<SlaMetadata>();
  md->config.topk_ratio = step.topk_ratio;
  FV_CHECK(step.topk_ratio > 0 && step.topk_ratio <= 1, "SLA topk_ratio ", step.topk_ratio,
           " is outside (0, 1]");
  return md;
}

Tensor SlaAttnBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                               const AttentionMetadata* metadata,
                               const AttentionExtras& extras) const {
  const auto* md = dynamic_cast<const SlaMetadata*>(metadata);
  FV_CHECK(md != nullptr,
           "SLA_ATTN needs the step's metadata (its topk_ratio): it runs the transformer's "
           "self-attention only");
  try {
    return ops::sparse_linear_attention(q, k, v, md->config, scale, extras.proj_l_weight,
                                        extras.proj_l_bias);
  } catch (const Error& e) {
    throw e.with_context("attention backend SLA_ATTN");
  }
}

}  // namespace fastvideo
