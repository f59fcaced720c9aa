// The settings of the sparse self-attention backends, resolved once per pipeline and handed to
// every step's metadata (AttentionStepInfo::sparsity, ::topk_ratio).
//
// FastVideo's VSA_sparsity (fastvideo.md §3.1): the explicit value
// (GeneratorOptions::vsa_sparsity: --VSA-sparsity, generator.pipeline.experimental.VSA_sparsity),
// else the model's preset (0.8 for FastWan, 0 for Wan2.1 as FastVideoArgs). The value reaches the
// self-attention's per-step metadata (AttentionStepInfo::sparsity), which only VIDEO_SPARSE_ATTN
// reads: an explicit value with another backend would change nothing, so it is an error.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "attention/attention_backend.h"
#include "attention/sta_search_recorder.h"

namespace fastvideo {

inline constexpr std::string_view kVsaBackendName = "VIDEO_SPARSE_ATTN";

// How to choose `backend` for self-attention, for the messages of settings that need it:
// "attention_backend=X (--attention-backend X) or FASTVIDEO_ATTENTION_BACKEND=X".
std::string ways_to_select(std::string_view backend);

// explicit_value outside [0, 1), or set while `self` is not VIDEO_SPARSE_ATTN, throws naming the
// value and both backends' names. self_source: where the backend choice came from, for messages.
double resolve_vsa_sparsity(std::optional<double> explicit_value, double preset_value,
                            const AttentionBackend& self, const std::string& self_source);

// SLA's topk_ratio (fastvideo.md §4.3, §4.4): the explicit value (GeneratorOptions::sla_topk_ratio:
// --SLA-topk-ratio, generator.pipeline.experimental.SLA_topk_ratio), else FastVideo's defaults,
// 0.1 for SLA_ATTN (SLAAttentionImpl) and 0.5 for SAGE_SLA_ATTN (SageSLAAttentionImpl). Outside
// (0, 1], or set while `self` is neither, throws naming the value (and both backends).
inline constexpr std::string_view kSlaBackendName = "SLA_ATTN";
inline constexpr std::string_view kSageSlaBackendName = "SAGE_SLA_ATTN";
inline constexpr double kSlaDefaultTopkRatio = 0.1;
inline constexpr double kSageSlaDefaultTopkRatio = 0.5;
double resolve_sla_topk_ratio(std::optional<double> explicit_value, const AttentionBackend& self,
                              const std::string& self_source);

struct SparseAttentionSettings {
  double vsa_sparsity = 0;                       // AttentionStepInfo::sparsity
  double sla_topk_ratio = kSlaDefaultTopkRatio;  // AttentionStepInfo::topk_ratio
  std::shared_ptr<StaSearchRecorder> sta_search =
      nullptr;  // AttentionStepInfo::sta_search; null: none
  std::shared_ptr<const VmobaConfig> moba_config = nullptr;  // AttentionStepInfo::moba_config

  // The step's information for the self-attention's metadata builder (both denoise loops).
  AttentionStepInfo step(int index, double timestep, std::array<int64_t, 3> grid) const {
    return {.step = index,
            .timestep = timestep,
            .grid = grid,
            .sparsity = vsa_sparsity,
            .topk_ratio = sla_topk_ratio,
            .sta_search = sta_search.get(),
            .moba_config = moba_config};
  }
};

}  // namespace fastvideo
