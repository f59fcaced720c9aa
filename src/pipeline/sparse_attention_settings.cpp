#include "pipeline/sparse_attention_settings.h"

#include <cmath>

namespace fastvideo {

std::string ways_to_select(std::string_view backend) {
  return str_cat("attention_backend=", backend, " (--attention-backend ", backend,
                 ") or FASTVIDEO_ATTENTION_BACKEND=", backend);
}

double resolve_vsa_sparsity(std::optional<double> explicit_value, double preset_value,
                            const AttentionBackend& self, const std::string& self_source) {
  if (!explicit_value) return preset_value;
  const double s = *explicit_value;
  // s = 1 would keep no tile; FastVideo's top-k clamps it to one, which is not a sparsity anyone
  // means.
  FV_CHECK(std::isfinite(s) && s >= 0.0 && s < 1.0, "VSA_sparsity=", s,
           " is outside [0, 1) (the fraction of key tiles VIDEO_SPARSE_ATTN skips)");
  FV_CHECK(self.name() == kVsaBackendName, "VSA_sparsity=", s,
           " is set, but the self-attention backend is ", self.name(), " (", self_source,
           "); VSA_sparsity applies only to ", kVsaBackendName, ": select it with ",
           ways_to_select(kVsaBackendName), ", or leave VSA_sparsity unset");
  return s;
}

double resolve_sla_topk_ratio(std::optional<double> explicit_value, const AttentionBackend& self,
                              const std::string& self_source) {
  const bool sage_sla = self.name() == kSageSlaBackendName;
  if (!explicit_value) return sage_sla ? kSageSlaDefaultTopkRatio : kSlaDefaultTopkRatio;
  const double r = *explicit_value;
  FV_CHECK(std::isfinite(r) && r > 0.0 && r <= 1.0, "SLA_topk_ratio=", r,
           " is outside (0, 1] (the fraction of key blocks SLA_ATTN or SAGE_SLA_ATTN attends to "
           "exactly)");
  FV_CHECK(self.name() == kSlaBackendName || sage_sla, "SLA_topk_ratio=", r,
           " is set, but the self-attention backend is ", self.name(), " (", self_source,
           "); SLA_topk_ratio applies only to ", kSlaBackendName, " and ", kSageSlaBackendName,
           ": select one with ", ways_to_select(kSlaBackendName),
           ", or leave SLA_topk_ratio unset");
  return r;
}

}  // namespace fastvideo
