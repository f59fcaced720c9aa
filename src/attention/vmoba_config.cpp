#include "attention/vmoba_config.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fastvideo/error.h"
#include "io/json_parse.h"
#include "io/text_file.h"

namespace fastvideo {

namespace {

using Json = nlohmann::json;

// A whole number >= `min` (FastVideo's files write them as JSON integers).
int64_t whole(const Json& j, const std::string& key, const std::string& source, int64_t min) {
  const Json& v = j.at(key);
  FV_CHECK(v.is_number_integer() && v.get<int64_t>() >= min, source, ": '", key, "' = ", v.dump(),
           ": expected a whole number, at least ", min);
  return v.get<int64_t>();
}

template <size_t N>
std::array<int64_t, N> sizes(const Json& j, const std::string& key, const std::string& source) {
  const Json& v = j.at(key);
  FV_CHECK(v.is_array() && v.size() == N, source, ": '", key, "' = ", v.dump(), ": expected ", N,
           " chunk sizes");
  std::array<int64_t, N> out{};
  for (size_t a = 0; a < N; ++a) {
    FV_CHECK(v[a].is_number_integer() && v[a].get<int64_t>() >= 1, source, ": '", key,
             "' = ", v.dump(), ": chunk sizes are whole numbers of latent patches, at least 1");
    out[a] = v[a].get<int64_t>();
  }
  return out;
}

std::string text(const Json& j, const std::string& key, const std::string& source) {
  const Json& v = j.at(key);
  FV_CHECK(v.is_string(), source, ": '", key, "' = ", v.dump(), ": expected a string");
  return v.get<std::string>();
}

}  // namespace

VmobaConfig VmobaConfig::from_file(const std::filesystem::path& path) {
  return from_json_text(read_text_file(path, "the VMoBA config, moba_config_path"), path.string());
}

VmobaConfig VmobaConfig::from_json_text(const std::string& content, const std::string& source) {
  Json j;
  try {
    j = parse_json(content);
  } catch (const Json::parse_error& e) {
    fail(source, ": not valid JSON (", e.what(), ")");
  }
  FV_CHECK(j.is_object(), source, ": a VMoBA config is a JSON object of FastVideo's keys");
  static const std::set<std::string> required = {"temporal_chunk_size", "temporal_topk",
                                                 "spatial_chunk_size",  "spatial_topk",
                                                 "st_chunk_size",       "st_topk"};
  static const std::set<std::string> optional = {
      "moba_select_mode", "moba_threshold", "moba_threshold_type", "first_full_layer",
      "first_full_step",  "temporal_layer", "spatial_layer",       "st_layer"};
  for (const auto& [key, value] : j.items()) {
    FV_CHECK(required.count(key) || optional.count(key), source, ": unknown key '", key,
             "' (a VMoBA config has temporal_chunk_size, temporal_topk, spatial_chunk_size, "
             "spatial_topk, st_chunk_size, st_topk, moba_select_mode, moba_threshold, "
             "moba_threshold_type, first_full_layer, first_full_step, temporal_layer, "
             "spatial_layer, st_layer)");
  }
  for (const std::string& key : required)
    FV_CHECK(j.contains(key), source, ": required key '", key, "' is missing");

  VmobaConfig c;
  c.source = source;
  c.temporal_chunk_size = whole(j, "temporal_chunk_size", source, 1);
  c.temporal_topk = whole(j, "temporal_topk", source, 1);
  c.spatial_chunk_size = sizes<2>(j, "spatial_chunk_size", source);
  c.spatial_topk = whole(j, "spatial_topk", source, 1);
  c.st_chunk_size = sizes<3>(j, "st_chunk_size", source);
  c.st_topk = whole(j, "st_topk", source, 1);
  if (j.contains("moba_select_mode")) {
    const std::string mode = text(j, "moba_select_mode", source);
    FV_CHECK(mode == "threshold" || mode == "topk", source, ": 'moba_select_mode' = '", mode,
             "': expected 'threshold' or 'topk'");
    c.select_mode = mode == "topk" ? VmobaSelectMode::TopK : VmobaSelectMode::Threshold;
  }
  if (j.contains("moba_threshold")) {
    const Json& v = j.at("moba_threshold");
    FV_CHECK(v.is_number() && v.get<double>() >= 0 && v.get<double>() <= 1, source,
             ": 'moba_threshold' = ", v.dump(), ": expected a number in [0, 1]");
    c.threshold = v.get<double>();
  }
  if (j.contains("moba_threshold_type")) {
    static const std::map<std::string, VmobaThresholdType> types = {
        {"query_head", VmobaThresholdType::QueryHead},
        {"block", VmobaThresholdType::Block},
        {"overall", VmobaThresholdType::Overall},
        {"head_global", VmobaThresholdType::HeadGlobal}};
    const std::string type = text(j, "moba_threshold_type", source);
    const auto it = types.find(type);
    FV_CHECK(it != types.end(), source, ": 'moba_threshold_type' = '", type,
             "': expected query_head, block, overall or head_global");
    c.threshold_type = it->second;
  }
  FV_CHECK(
      !(c.select_mode == VmobaSelectMode::TopK && c.threshold_type == VmobaThresholdType::Block),
      source, ": 'moba_threshold_type' = 'block' has no topk form (moba_select_mode 'topk')");
  if (j.contains("first_full_layer")) c.first_full_layer = whole(j, "first_full_layer", source, 0);
  if (j.contains("first_full_step")) c.first_full_step = whole(j, "first_full_step", source, 0);
  if (j.contains("temporal_layer")) c.temporal_layer = whole(j, "temporal_layer", source, 0);
  if (j.contains("spatial_layer")) c.spatial_layer = whole(j, "spatial_layer", source, 0);
  if (j.contains("st_layer")) c.st_layer = whole(j, "st_layer", source, 0);
  FV_CHECK(c.temporal_layer + c.spatial_layer + c.st_layer >= 1, source,
           ": temporal_layer, spatial_layer and st_layer are all 0; at least one layer kind is "
           "needed");
  return c;
}

VmobaPartition VmobaConfig::partition(int64_t layer) const {
  const int64_t cycle = temporal_layer + spatial_layer + st_layer;
  const int64_t m = ((layer - first_full_layer) % cycle + cycle) % cycle;
  if (m < temporal_layer) return VmobaPartition::Temporal;
  if (m < temporal_layer + spatial_layer) return VmobaPartition::Spatial;
  return VmobaPartition::SpatioTemporal;
}

std::array<int64_t, 3> VmobaConfig::chunk_box(VmobaPartition p, std::array<int64_t, 3> grid) const {
  std::array<int64_t, 3> box = st_chunk_size;
  if (p == VmobaPartition::Temporal) box = {temporal_chunk_size, grid[1], grid[2]};
  if (p == VmobaPartition::Spatial) box = {grid[0], spatial_chunk_size[0], spatial_chunk_size[1]};
  // A chunk longer than the grid is the whole axis (the same tokens, no empty slots).
  for (size_t a = 0; a < 3; ++a) box[a] = std::min(box[a], grid[a]);
  return box;
}

VmobaRule VmobaConfig::rule(VmobaPartition p) const {
  const int64_t topk = p == VmobaPartition::Temporal  ? temporal_topk
                       : p == VmobaPartition::Spatial ? spatial_topk
                                                      : st_topk;
  return {select_mode, topk, threshold, threshold_type};
}

std::string_view vmoba_partition_name(VmobaPartition p) {
  switch (p) {
    case VmobaPartition::Temporal:
      return "temporal";
    case VmobaPartition::Spatial:
      return "spatial";
    case VmobaPartition::SpatioTemporal:
      break;
  }
  return "spatio-temporal";
}

}  // namespace fastvideo
