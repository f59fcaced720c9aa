#include "io/video_metadata.h"

#include <nlohmann/json.hpp>

#include "fastvideo/error.h"
#include "io/json_parse.h"

namespace fastvideo {

std::string VideoMetadata::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [key, value] : entries) j[key] = value;
  // Invalid UTF-8 in a prompt must not make saving fail: replace it rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

VideoMetadata VideoMetadata::from_json(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = parse_json(text);
  } catch (const nlohmann::json::exception& e) {  // also out_of_range: a number beyond double
    fail(origin, ": metadata is not valid JSON: ", e.what());
  }
  FV_CHECK(j.is_object(), origin, ": metadata must be a JSON object, got ", j.type_name());
  VideoMetadata metadata;
  for (const auto& [key, value] : j.items())
    metadata.entries[key] = value.is_string() ? value.get<std::string>() : value.dump();
  return metadata;
}

}  // namespace fastvideo
