// TORCH_SDPA: dense softmax attention through ops::attention — the fp32 reference on the CPU,
// cuDNN's fused SDPA on a GPU (PyTorch's SDPA runs the same cuDNN kernels, attention-algorithms.md
// §2), with the GEMM-softmax path for the cases cuDNN does not take. The dense backend every
// other one is checked against, and the one cross-attention, UMT5 and the VAE always use.
#pragma once

#include "attention/attention_backend.h"

namespace fastvideo {

class TorchSdpaBackend final : public AttentionBackend {
 public:
  std::string_view name() const override { return "TORCH_SDPA"; }
  const AttentionCapabilities& capabilities() const override;
  AttentionBackendStatus status(const AttentionDevice& device) const override;

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override;
};

}  // namespace fastvideo
