#include "attention/sta_mask_strategy.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "fastvideo/error.h"
#include "io/json_parse.h"
#include "io/text_file.h"

namespace fastvideo {

namespace {

// "12_3_7" -> {12, 3, 7}; false unless exactly three non-negative decimal integers.
bool parse_key(const std::string& key, std::array<int, 3>& out) {
  std::istringstream in(key);
  std::string part;
  int n = 0;
  while (std::getline(in, part, '_')) {
    if (n == 3 || part.empty() || part.size() > 6 ||
        part.find_first_not_of("0123456789") != std::string::npos)
      return false;
    out[size_t(n++)] = std::stoi(part);
  }
  return n == 3 && key.back() != '_';
}

}  // namespace

StaMaskStrategy StaMaskStrategy::from_json_text(const std::string& text,
                                                const std::string& source) {
  nlohmann::json j;
  try {
    j = parse_json(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(source, ": not valid JSON (", e.what(), ")");
  }
  FV_CHECK(j.is_object(), source,
           ": an STA mask strategy is a JSON object of \"step_layer_head\": [t, h, w] entries");
  StaMaskStrategy s;
  s.source_ = source;
  for (const auto& [key, value] : j.items()) {
    std::array<int, 3> at{};
    FV_CHECK(parse_key(key, at), source, ": key '", key,
             "' is not \"step_layer_head\" (three non-negative integers joined by '_')");
    FV_CHECK(value.is_array() && value.size() == 3, source, ": '", key, "' = ", value.dump(),
             " is not a window [t, h, w]");
    StaWindow w{};
    for (size_t a = 0; a < 3; ++a) {
      FV_CHECK(value[a].is_number_integer() && value[a].get<int64_t>() >= 1, source, ": '", key,
               "' = ", value.dump(), ": window sizes are whole numbers of tiles, at least 1");
      w[a] = value[a].get<int64_t>();
    }
    FV_CHECK(s.windows_.emplace(at, w).second, source, ": key '", key,
             "' names the same step, layer and head as an earlier key");
  }
  FV_CHECK(!s.windows_.empty(), source, ": the mask strategy has no entries");
  return s;
}

StaMaskStrategy StaMaskStrategy::from_file(const std::filesystem::path& path) {
  return from_json_text(
      read_text_file(path, str_cat("the STA mask strategy, ", kAttentionConfigEnv)), path.string());
}

const StaWindow& StaMaskStrategy::window(int step, int layer, int head) const {
  const auto it = windows_.find({step, layer, head});
  FV_CHECK(it != windows_.end(), source_, ": no window for step ", step, ", layer ", layer,
           ", head ", head, " (key '", step, "_", layer, "_", head, "')");
  return it->second;
}

void StaMaskStrategy::set(int step, int layer, int head, const StaWindow& window) {
  windows_[{step, layer, head}] = window;
}

void StaMaskStrategy::write(const std::filesystem::path& path) const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [at, w] : windows_)
    j[str_cat(at[0], "_", at[1], "_", at[2])] = {w[0], w[1], w[2]};
  write_text_file(path, j.dump(4) + "\n");
}

}  // namespace fastvideo
