#include "attention/attention_selection.h"

#include <array>

#include "fastvideo/error.h"
#include "core/env.h"

namespace fastvideo {

namespace {

// Dense backends, fastest first. Automatic choice never picks a sparse or quantized backend: they
// change the result, so they run only when asked for (as in FastVideo, fastvideo.md §2.3).
constexpr std::array<std::string_view, 2> kAutomaticOrder = {"FLASH_ATTN", "TORCH_SDPA"};

bool fits(const AttentionBackend& b, const AttentionLayerShape& shape,
          const AttentionDevice& device) {
  return b.capabilities().supports_dtype(shape.dtype, device) &&
         b.capabilities().supports_head_dim(shape.head_dim, device);
}

std::string available_names(const AttentionDevice& device,
                            const AttentionBackendRegistry& registry) {
  std::string out;
  for (const AttentionBackend* b : registry.backends()) {
    if (!b->status(device).available()) continue;
    if (!out.empty()) out += ", ";
    out += b->name();
  }
  return out;
}

// The explicitly requested backend, checked against the device and the layer shape.
const AttentionBackend& requested_backend(std::string_view name, std::string_view source,
                                          const AttentionDevice& device,
                                          const AttentionLayerShape& shape,
                                          const AttentionBackendRegistry& registry) {
  const AttentionBackend& b = registry.get(name, source);
  const AttentionBackendStatus status = b.status(device);
  if (!status.available()) {
    fail("attention backend ", b.name(), " (from ", source, ") cannot be used: ", status.reason,
         "; available here: ", available_names(device, registry));
  }
  const AttentionCapabilities& caps = b.capabilities();
  FV_CHECK(caps.self_attention, "attention backend ", b.name(), " (from ", source,
           ") cannot run self-attention");
  const char* where = device.is_gpu() ? " on a GPU" : "";
  FV_CHECK(caps.supports_head_dim(shape.head_dim, device), "attention backend ", b.name(),
           " (from ", source, ") does not support head_dim ", shape.head_dim, where, " (",
           caps.describe(), ")");
  FV_CHECK(caps.supports_dtype(shape.dtype, device), "attention backend ", b.name(), " (from ",
           source, ") does not support ", dtype_name(shape.dtype), where, " (", caps.describe(),
           ")");
  return b;
}

}  // namespace

std::string AttentionSelection::describe() const {
  return str_cat("self ", self->name(), " (", source, "), cross ", cross->name(), ", text encoder ",
                 text_encoder->name(), ", VAE ", vae->name());
}

const AttentionBackend& automatic_dense_backend(const AttentionDevice& device,
                                                const AttentionLayerShape& shape,
                                                const AttentionBackendRegistry& registry) {
  for (std::string_view name : kAutomaticOrder) {
    const AttentionBackend* b = registry.find(name);
    if (b && b->status(device).available() && b->chosen_automatically_on(device) &&
        fits(*b, shape, device))
      return *b;
  }
  fail("no dense attention backend runs on ", device.describe(), " with head_dim ", shape.head_dim,
       " and ", dtype_name(shape.dtype));
}

AttentionSelection select_attention_backends(std::string_view option,
                                             const std::optional<std::string>& env,
                                             const AttentionDevice& device,
                                             const AttentionLayerShape& transformer,
                                             const AttentionBackendRegistry& registry) {
  AttentionSelection s;
  if (!option.empty()) {
    s.source = "the attention_backend option";
    s.self = &requested_backend(option, s.source, device, transformer, registry);
    // The option wins; say so, so that a variable set for this run is not taken as used (an
    // unknown name there too).
    if (env && !env->empty() && registry.find(*env) != s.self)
      warn_env_not_used(kAttentionBackendEnv, *env,
                        str_cat("the attention_backend option (", s.self->name(), ")"));
  } else if (env && !env->empty()) {
    s.source = kAttentionBackendEnv;
    s.self = &requested_backend(*env, s.source, device, transformer, registry);
  } else {
    s.source = "automatic";
    s.self = &automatic_dense_backend(device, transformer, registry);
  }
  // fastvideo.md §2.4: cross-attention supports dense backends only. Over 512 text keys cuDNN's
  // SDPA beats our FLASH_ATTN (549 vs 487 TFLOP/s on an H200, docs/perf.md), so it stays there.
  const AttentionBackend& dense = registry.get("TORCH_SDPA", "the attention registry");
  s.cross = &dense;
  s.text_encoder = &dense;
  s.vae = &dense;
  return s;
}

}  // namespace fastvideo
