// VMOBA_ATTN's configuration: FastVideo's moba_config_path JSON (its
// fastvideo/configs/backend/vmoba/*.json keys, fastvideo.md §4.2), checked when read: a missing
// required key, a value of the wrong type or range, or a key FastVideo does not have is an error
// naming the file and the key (FastVideo ignores unknown keys; here a misspelt key would silently
// change nothing, so it is refused).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>

#include "ops/video_moba_attention.h"

namespace fastvideo {

// Which chunking a layer uses: temporal (groups of latent frames, all of H×W), spatial (columns of
// ch×cw patches through all frames) or spatio-temporal (ct×ch×cw cubes).
enum class VmobaPartition { Temporal, Spatial, SpatioTemporal };

struct VmobaConfig {
  int64_t temporal_chunk_size = 0, temporal_topk = 0;
  std::array<int64_t, 2> spatial_chunk_size{};
  int64_t spatial_topk = 0;
  std::array<int64_t, 3> st_chunk_size{};
  int64_t st_topk = 0;
  VmobaSelectMode select_mode = VmobaSelectMode::Threshold;  // moba_select_mode
  double threshold = 0.25;                                   // moba_threshold
  VmobaThresholdType threshold_type = VmobaThresholdType::QueryHead;
  int64_t first_full_layer = 0;
  int64_t first_full_step = 12;  // steps before it attend densely
  int64_t temporal_layer = 1, spatial_layer = 1, st_layer = 1;
  std::string source;  // the file, for messages

  static VmobaConfig from_file(const std::filesystem::path& path);
  static VmobaConfig from_json_text(const std::string& text, const std::string& source);

  // FastVideo's cycle: m = (layer − first_full_layer) mod (temporal_layer + spatial_layer +
  // st_layer), taken non-negative; the first temporal_layer values of m are temporal, the next
  // spatial_layer spatial, the rest spatio-temporal.
  VmobaPartition partition(int64_t layer) const;
  // The chunk box (t, h, w) of `partition` on `grid`: temporal (c, H, W), spatial (T, ch, cw),
  // spatio-temporal (ct, ch, cw). Chunks that do not divide the grid leave partial chunks.
  std::array<int64_t, 3> chunk_box(VmobaPartition partition, std::array<int64_t, 3> grid) const;
  VmobaRule rule(VmobaPartition partition) const;  // the partition's topk and the selection mode
};

std::string_view vmoba_partition_name(VmobaPartition p);  // "temporal", "spatial", ...

// FastVideo's fastvideo/configs/backend/vmoba/wan_1.3B_77_480_832.json, key for key (what the
// tests and `bench attention` run).
inline constexpr const char* kFastVideoVmoba480Json = R"({
  "temporal_chunk_size": 2, "temporal_topk": 3,
  "spatial_chunk_size": [3, 4], "spatial_topk": 20,
  "st_chunk_size": [4, 6, 4], "st_topk": 15,
  "moba_select_mode": "threshold", "moba_threshold": 0.25, "moba_threshold_type": "query_head",
  "first_full_layer": 0, "first_full_step": 12,
  "temporal_layer": 1, "spatial_layer": 1, "st_layer": 1
})";

}  // namespace fastvideo
