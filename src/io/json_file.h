// A parsed JSON file whose every lookup error names the file, the key and what was expected.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "core/excerpt.h"
#include "fastvideo/error.h"

namespace fastvideo {

class JsonFile {
 public:
  // Throws Error naming the path when the file is missing or not valid JSON (with line/column).
  static JsonFile load(const std::filesystem::path& path);
  JsonFile(nlohmann::json json, std::string origin)
      : json_(std::move(json)), origin_(std::move(origin)) {}

  bool has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }

  template <class T>
  T get(const std::string& key) const {
    if (!json_.contains(key)) fail(origin_, ": missing key '", key, "'");
    return convert<T>(key, json_[key]);
  }
  template <class T>
  T get_or(const std::string& key, T fallback) const {
    return has(key) ? convert<T>(key, json_[key]) : fallback;
  }

  // The key's value as error messages quote it (core/excerpt.h); "null" when absent.
  std::string quote(const std::string& key) const {
    return excerpt(json_.contains(key) ? json_[key].dump() : "null");
  }

  const nlohmann::json& json() const { return json_; }
  const std::string& origin() const { return origin_; }

 private:
  template <class T>
  T convert(const std::string& key, const nlohmann::json& v) const {
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception&) {
      fail(origin_, ": key '", key, "' has value ", excerpt(v.dump()),
           ", which is not of the expected type");
    }
  }

  nlohmann::json json_;
  std::string origin_;
};

}  // namespace fastvideo
