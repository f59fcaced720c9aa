#include "attention/torch_sdpa_backend.h"

#include "ops/attention.h"

namespace fastvideo {

const AttentionCapabilities& TorchSdpaBackend::capabilities() const {
  static const AttentionCapabilities caps{
      .cpu = true,
      .gpu = true,
      .min_compute = {8, 0},
      .gpu_requirement = "an NVIDIA GPU with compute capability 8.0 or newer",
      .dtypes = {DType::F32, DType::BF16, DType::F16},
      .head_dims = {},
      .gpu_dtypes = {},
      .gpu_head_dims = {},
      .self_attention = true,
      .cross_attention = true,
      .extra_weights = {},
  };
  return caps;
}

AttentionBackendStatus TorchSdpaBackend::status(const AttentionDevice& device) const {
  AttentionBackendStatus s = hardware_status(name(), capabilities(), device);
  if (s.available()) {
    s.reason = device.is_gpu()
                   ? "cuDNN fused SDPA (GEMM-softmax for cases cuDNN does not take) on " +
                         device.describe()
                   : "fp32 reference attention on the CPU";
  }
  return s;
}

Tensor TorchSdpaBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                                 const AttentionMetadata*, const AttentionExtras&) const {
  return ops::attention(q, k, v, scale);
}

}  // namespace fastvideo
