// Every attention backend by its FastVideo name (fastvideo.md §2.2, §2.5; DESIGN §4): TORCH_SDPA,
// FLASH_ATTN, VIDEO_SPARSE_ATTN, SAGE_ATTN, SAGE_ATTN_THREE, VMOBA_ATTN, SLA_ATTN, SAGE_SLA_ATTN,
// SLIDING_TILE_ATTN and nvfp4_fa4 (FP4 FlashAttention-4).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "attention/attention_backend.h"

namespace fastvideo {

class AttentionBackendRegistry {
 public:
  // The registry of this build, with every name above (built once, never destroyed).
  static const AttentionBackendRegistry& builtin();

  // Adds a backend; a second backend of the same name (in any case) is an error.
  void add(std::unique_ptr<AttentionBackend> backend);

  // Names match in any case: FastVideo upper-cases explicit values (coerce_attn_backend) and its
  // FP4 FA4 flag is lowercase. Null when unknown.
  const AttentionBackend* find(std::string_view name) const;
  // As find, but an unknown name is an error naming `source` and listing the valid names.
  const AttentionBackend& get(std::string_view name, std::string_view source) const;

  std::vector<const AttentionBackend*> backends() const;  // in registration order
  std::string valid_names() const;                        // "TORCH_SDPA, FLASH_ATTN, ..."

 private:
  std::vector<std::unique_ptr<AttentionBackend>> backends_;
};

// The builtin registry's TORCH_SDPA: the dense backend models use when given none.
const AttentionBackend& torch_sdpa_backend();

}  // namespace fastvideo
