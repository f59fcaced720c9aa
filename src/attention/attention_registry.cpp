#include "attention/attention_registry.h"

#include <algorithm>
#include <cctype>

#include "attention/flash_attn_backend.h"
#include "attention/later_version_backend.h"
#include "attention/sage_attn_backend.h"
#include "attention/sla_attn_backend.h"
#include "attention/sliding_tile_attn_backend.h"
#include "attention/torch_sdpa_backend.h"
#include "attention/video_sparse_attn_backend.h"
#include "attention/vmoba_attn_backend.h"
#include "fastvideo/error.h"

namespace fastvideo {

namespace {

bool same_name(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::toupper(static_cast<unsigned char>(x)) ==
           std::toupper(static_cast<unsigned char>(y));
  });
}

// Capabilities of the backends later issues build, from fastvideo.md §2.5, §3–4 and
// attention-algorithms.md §3–8; all run Wan's self-attention only (§2.4).
AttentionCapabilities later_capabilities(ComputeCapability min, ComputeCapability max,
                                         std::string requirement, std::vector<int64_t> head_dims,
                                         std::vector<std::string> extra_weights = {}) {
  return AttentionCapabilities{
      .cpu = false,
      .gpu = true,
      .min_compute = min,
      .max_compute = max,
      .gpu_requirement = std::move(requirement),
      .dtypes = {DType::BF16, DType::F16},
      .head_dims = std::move(head_dims),
      .gpu_dtypes = {},
      .gpu_head_dims = {},
      .self_attention = true,
      .cross_attention = false,
      .extra_weights = std::move(extra_weights),
  };
}

AttentionBackendRegistry make_builtin() {
  const ComputeCapability any_newer{99, 9};
  AttentionBackendRegistry r;
  r.add(std::make_unique<TorchSdpaBackend>());
  r.add(std::make_unique<FlashAttnBackend>());
  auto later = [&](std::string name, AttentionCapabilities caps) {
    r.add(std::make_unique<LaterVersionBackend>(std::move(name), std::move(caps)));
  };
  r.add(std::make_unique<VideoSparseAttnBackend>());
  r.add(std::make_unique<SageAttnBackend>());
  // SageAttention 3: NVFP4 block-scaled MMA, Blackwell only (attention-algorithms.md §5.5).
  later("SAGE_ATTN_THREE",
        later_capabilities({10, 0}, any_newer,
                           "a Blackwell GPU (compute capability 10.0 or newer: B200, RTX 5090)",
                           {64, 128}));
  r.add(std::make_unique<VmobaAttnBackend>());
  r.add(std::make_unique<SlaAttnBackend>(SlaVariant::Sla));
  // SageSLA: SLA with SAGE_ATTN's INT8/FP8 sparse branch (fastvideo.md §4.4).
  r.add(std::make_unique<SlaAttnBackend>(SlaVariant::SageSla));
  r.add(std::make_unique<SlidingTileAttnBackend>());
  // FP4 FlashAttention-4: NVFP4 Q/K, sm_100a/sm_103a only, head_dim ≥ 128 (fastvideo.md §2.3).
  later("nvfp4_fa4",
        later_capabilities({10, 0}, {10, 3},
                           "a Blackwell data-centre GPU (compute capability 10.0 or 10.3: B200, "
                           "B300)",
                           {128, 256}));
  return r;
}

}  // namespace

const AttentionBackendRegistry& AttentionBackendRegistry::builtin() {
  static const auto& registry = *new AttentionBackendRegistry(make_builtin());
  return registry;
}

void AttentionBackendRegistry::add(std::unique_ptr<AttentionBackend> backend) {
  FV_CHECK(backend, "AttentionBackendRegistry::add: null backend");
  FV_CHECK(!find(backend->name()), "attention backend ", backend->name(), " is registered twice");
  backends_.push_back(std::move(backend));
}

const AttentionBackend* AttentionBackendRegistry::find(std::string_view name) const {
  for (const auto& b : backends_) {
    if (same_name(b->name(), name)) return b.get();
  }
  return nullptr;
}

const AttentionBackend& AttentionBackendRegistry::get(std::string_view name,
                                                      std::string_view source) const {
  const AttentionBackend* b = find(name);
  if (!b) {
    fail("unknown attention backend '", name, "' (from ", source,
         "); valid names: ", valid_names());
  }
  return *b;
}

std::vector<const AttentionBackend*> AttentionBackendRegistry::backends() const {
  std::vector<const AttentionBackend*> out;
  for (const auto& b : backends_) out.push_back(b.get());
  return out;
}

std::string AttentionBackendRegistry::valid_names() const {
  std::string out;
  for (const auto& b : backends_) {
    if (!out.empty()) out += ", ";
    out += b->name();
  }
  return out;
}

const AttentionBackend& torch_sdpa_backend() {
  return AttentionBackendRegistry::builtin().get("TORCH_SDPA", "torch_sdpa_backend");
}

}  // namespace fastvideo
