// Which backend each attention layer runs (DESIGN §4, fastvideo.md §2.1–2.4):
//   self-attention: the attention_backend option (API GeneratorOptions::attention_backend, CLI
//   --attention-backend, YAML generator.pipeline.experimental.attention_backend)
//   > FASTVIDEO_ATTENTION_BACKEND > automatic (the fastest available dense backend here).
//   An unknown name is an error listing the valid names (FastVideo ignores an unknown env value;
//   we do not); a backend that cannot run here is an error with its reason, never a fallback.
//   cross-attention (512 text tokens): always dense — the self backend if it is dense, else the
//   automatic dense choice. UMT5 and the VAE attention (position bias, one 384-wide head):
//   TORCH_SDPA.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "attention/attention_registry.h"

namespace fastvideo {

// The attention a model's layers run: head dim and q/k/v dtype.
struct AttentionLayerShape {
  int64_t head_dim = 0;
  DType dtype = DType::F32;
};

struct AttentionSelection {
  const AttentionBackend* self = nullptr;
  const AttentionBackend* cross = nullptr;
  const AttentionBackend* text_encoder = nullptr;
  const AttentionBackend* vae = nullptr;
  std::string source;  // where self's choice came from: an option, the env variable, automatic

  // "self TORCH_SDPA (automatic), cross TORCH_SDPA, text encoder TORCH_SDPA, VAE TORCH_SDPA"
  std::string describe() const;
};

inline constexpr const char* kAttentionBackendEnv = "FASTVIDEO_ATTENTION_BACKEND";

// option: the attention_backend option, empty when unset; env: FASTVIDEO_ATTENTION_BACKEND's
// value (consulted only when the option is unset); transformer: the DiT's attention shape.
AttentionSelection select_attention_backends(
    std::string_view option, const std::optional<std::string>& env, const AttentionDevice& device,
    const AttentionLayerShape& transformer,
    const AttentionBackendRegistry& registry = AttentionBackendRegistry::builtin());

// The fastest available dense backend on `device` for `shape` (FLASH_ATTN, then TORCH_SDPA).
const AttentionBackend& automatic_dense_backend(const AttentionDevice& device,
                                                const AttentionLayerShape& shape,
                                                const AttentionBackendRegistry& registry);

}  // namespace fastvideo
