#include "attention/vmoba_attn_backend.h"

#include "ops/attention.h"
#include "ops/token_tiling.h"
#include "ops/video_moba_attention.h"

namespace fastvideo {

const AttentionCapabilities& VmobaAttnBackend::capabilities() const {
  return tile_list_capabilities();
}

AttentionBackendStatus VmobaAttnBackend::status(const AttentionDevice& device) const {
  return tile_list_status(name(), device);
}

std::unique_ptr<AttentionMetadata> VmobaAttnBackend::build_metadata(
    const AttentionStepInfo& step) const {
  FV_CHECK(step.moba_config != nullptr,
           "VMOBA_ATTN needs its config: set moba_config_path "
           "(generator.pipeline.experimental.moba_config_path, --moba-config-path) to a VMoBA "
           "JSON such as FastVideo's fastvideo/configs/backend/vmoba/wan_1.3B_77_480_832.json");
  auto md = std::make_unique<VmobaMetadata>();
  md->config = step.moba_config;
  md->grid = step.grid;
  md->step = step.step;
  return md;
}

Tensor VmobaAttnBackend::forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                                 const AttentionMetadata* metadata,
                                 const AttentionExtras& extras) const {
  const auto* md = dynamic_cast<const VmobaMetadata*>(metadata);
  FV_CHECK(md != nullptr,
           "VMOBA_ATTN needs the step's metadata (its token grid, step and config): it runs the "
           "transformer's self-attention only");
  if (md->dense()) return ops::attention(q, k, v, scale);
  const VmobaPartition partition = md->config->partition(extras.layer);
  const std::array<int64_t, 3> box = md->config->chunk_box(partition, md->grid);
  try {
    const auto tiling = TokenTiling::for_grid(md->grid, box, "VMOBA_ATTN");
    return ops::video_moba_attention(q, k, v, *tiling, md->config->rule(partition), scale);
  } catch (const Error& e) {
    e.rethrow_with_context(str_cat("attention backend VMOBA_ATTN (", md->config->source, ", layer ",
                                   extras.layer, ": ", vmoba_partition_name(partition), " chunks ",
                                   box[0], "x", box[1], "x", box[2], ", step ", md->step, ")"));
  }
}

}  // namespace fastvideo
