#include "attention/sla_attn_backend.h"

#include <iomanip>
#include <sstream>

#include "fastvideo/error.h"

namespace fastvideo {

const AttentionCapabilities& SlaAttnBackend::capabilities() const {
  static const AttentionCapabilities sage_sla{
      .cpu = true,
      .gpu = true,
      .min_compute = {9, 0},
      .max_compute = {9, 0},
      .gpu_requirement =
          "a Hopper GPU (sm_90: H100, H200) in this version: its sparse branch is "
          "SAGE_ATTN's Hopper kernel",
      .dtypes = {DType::F32, DType::BF16},
      .head_dims = {64, 128},
      .gpu_dtypes = {DType::BF16},
      .gpu_head_dims = {128},
      .self_attention = true,
      .cross_attention = false,
      .extra_weights = {"proj_l"},
  };
  if (variant_ == SlaVariant::SageSla) return sage_sla;
  static const AttentionCapabilities caps{
      .cpu = true,
      .gpu = true,
      .min_compute = {8, 0},
      .gpu_requirement = "an NVIDIA GPU of compute capability 8.0 or newer (A100, L40S, H100, ...)",
      .dtypes = {DType::F32, DType::BF16},
      .head_dims = {64, 128},
      .gpu_dtypes = {DType::BF16},
      .gpu_head_dims = {128},
      .self_attention = true,
      .cross_attention = false,
      .extra_weights = {"proj_l"},
  };
  return caps;
}

AttentionBackendStatus SlaAttnBackend::status(const AttentionDevice& device) const {
  AttentionBackendStatus s = kernel_hardware_status(name(), capabilities(), device);
  if (variant_ == SlaVariant::SageSla) {
    if (s.kind == AttentionBackendStatus::Kind::NotInThisVersion) return s;
    if (device.is_gpu() && device.capability.major > 9) {
      return {AttentionBackendStatus::Kind::NotInThisVersion,
              "SAGE_SLA_ATTN's sparse branch is SAGE_ATTN's kernel, built for Hopper (sm_90); " +
                  device.describe() + " cannot run it"};
    }
    if (s.available()) {
      s.reason += device.is_gpu()
                      ? " with SAGE_ATTN's Hopper kernel over the selected blocks and cuBLASLt for "
                        "the block map and the linear branch (BF16, head_dim 128)"
                      : " (the block map and the linear branch in f32, the sparse branch by "
                        "SAGE_ATTN's INT8/FP8 rule)";
      s.reason += "; used when asked for, never automatically (it changes the result)";
    }
    return s;
  }
  if (s.available()) {
    s.reason += device.is_gpu() ? " with the portable block-sparse kernel (mma.sync) and cuBLASLt "
                                  "for the block map and the linear branch (BF16, head_dim 128)"
                                : " (f32)";
    s.reason += "; used when asked for, never automatically (it changes the result)";
  }
  return s;
}

std::optional<std::string> SlaMetadata::graph_key() const {
  std::ostringstream os;
  os << std::setprecision(17) << "SLA topk_ratio " << config.topk_ratio << " blocks "
     << config.block_q << "x" << config.block_k << " feature map " << int(config.feature_map)
     << " quantized " << config.quantized;
  return os.str();
}

std::unique_ptr<AttentionMetadata> SlaAttnBackend::build_metadata(
    const AttentionStepInfo& step) const {
  auto md = std::make_unique<SlaMetadata>();
  if (variant_ == SlaVariant::SageSla) md->config = sage_sla_config();
  md->config.topk_ratio = step.topk_ratio;
  FV_CHECK(step.topk_ratio > 0 && step.topk_ratio <= 1, name(), " topk_ratio ", step.topk_ratio,
           " is outside (0, 1]");
  return md;
}

void SlaAttnBackend::check_step(const AttentionStepInfo& step) const {
  const auto md = build_metadata(step);
  const SlaConfig& config = static_cast<const SlaMetadata&>(*md).config;
  const int64_t tokens = step.grid[0] * step.grid[1] * step.grid[2];
  try {
    sla_topk(config.topk_ratio, (tokens + config.block_k - 1) / config.block_k);
  } catch (const Error& e) {
    e.rethrow_with_context(str_cat("attention backend ", name(), " on ", step.grid[0], "x",
                                   step.grid[1], "x", step.grid[2], " tokens"));
  }
}

Tensor SlaAttnBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                               const AttentionMetadata* metadata,
                               const AttentionExtras& extras) const {
  const auto* md = dynamic_cast<const SlaMetadata*>(metadata);
  FV_CHECK(md != nullptr, name(),
           " needs the step's metadata (its topk_ratio): it runs the transformer's "
           "self-attention only");
  try {
    return ops::sparse_linear_attention(q, k, v, md->config, scale, extras.proj_l_weight,
                                        extras.proj_l_bias);
  } catch (const Error& e) {
    e.rethrow_with_context(str_cat("attention backend ", name()));
  }
}

}  // namespace fastvideo
