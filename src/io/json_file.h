// A parsed JSON file whose every lookup error names the file, the key and what was expected.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

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

  // T is bool, std::string, an integer or floating-point type, or a std::vector of them. Nothing
  // is converted silently: an integer must be a whole number within T's range (2.0 reads as 2;
  // 2.5, 4294967298 for an int, or true are errors), a float must stay finite in T, and vectors
  // are checked element by element ("key 'dim_mult[2]'").
  template <class T>
  T get(const std::string& key) const {
    if (!json_.contains(key)) fail(origin_, ": missing key '", key, "'");
    return convert<T>(key, json_[key]);
  }
  template <class T>
  T get_or(const std::string& key, T fallback) const {
    return has(key) ? convert<T>(key, json_[key]) : fallback;
  }

  // get<T> for a size or count (T an integer type, or a vector of them checked element by
  // element) that must lie in [min, max]; throws naming the file, the key, the value and the
  // bounds. Sizes get sane upper bounds so that a corrupt config cannot size an allocation.
  template <class T>
  T get_in(const std::string& key, int64_t min, int64_t max) const {
    const T value = get<T>(key);
    check_in(key, value, min, max);
    return value;
  }
  template <class T>
  T get_in_or(const std::string& key, T fallback, int64_t min, int64_t max) const {
    return has(key) ? get_in<T>(key, min, max) : fallback;
  }

  // The key's value as error messages quote it (core/excerpt.h); "null" when absent.
  std::string quote(const std::string& key) const {
    return excerpt(json_.contains(key) ? json_[key].dump() : "null");
  }

  const nlohmann::json& json() const { return json_; }
  const std::string& origin() const { return origin_; }

 private:
  template <class T>
  struct is_vector : std::false_type {};
  template <class T, class A>
  struct is_vector<std::vector<T, A>> : std::true_type {};

  [[noreturn]] void refuse(const std::string& key, const nlohmann::json& v,
                           const std::string& expected) const {
    fail(origin_, ": key '", key, "' has value ", excerpt(v.dump()), ", expected ", expected);
  }

  void check_in(const std::string& key, int64_t value, int64_t min, int64_t max) const {
    if (value < min || value > max) {
      fail(origin_, ": key '", key, "' has value ", value, ", expected ", min, " to ", max);
    }
  }
  template <class T>
  void check_in(const std::string& key, const std::vector<T>& values, int64_t min,
                int64_t max) const {
    for (size_t i = 0; i < values.size(); ++i) {
      check_in(str_cat(key, "[", i, "]"), values[i], min, max);
    }
  }

  template <class T>
  T convert(const std::string& key, const nlohmann::json& v) const {
    if constexpr (is_vector<T>::value) {
      if (!v.is_array()) refuse(key, v, "an array");
      T out;
      for (size_t i = 0; i < v.size(); ++i) {
        out.push_back(convert<typename T::value_type>(str_cat(key, "[", i, "]"), v[i]));
      }
      return out;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) refuse(key, v, "true or false");
      return v.get<bool>();
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) refuse(key, v, "a string");
      return v.get<std::string>();
    } else if constexpr (std::is_integral_v<T>) {
      return integer<T>(key, v);
    } else {
      static_assert(std::is_floating_point_v<T>, "JsonFile reads bools, strings and numbers");
      if (!v.is_number()) refuse(key, v, "a number");
      const T x = v.get<T>();
      if (!std::isfinite(x)) refuse(key, v, "a number within floating-point range");
      return x;
    }
  }

  template <class T>
  T integer(const std::string& key, const nlohmann::json& v) const {
    if (v.is_number_unsigned()) {
      if (std::in_range<T>(v.get<uint64_t>())) return T(v.get<uint64_t>());
    } else if (v.is_number_integer()) {
      if (std::in_range<T>(v.get<int64_t>())) return T(v.get<int64_t>());
    } else if (v.is_number_float()) {
      // A whole number written as a float (2.0, 1e3); the bounds keep the int64_t cast exact.
      const double d = v.get<double>();
      if (d == std::trunc(d) && d >= -0x1p63 && d < 0x1p63 && std::in_range<T>(int64_t(d))) {
        return T(d);
      }
    }
    refuse(key, v,
           str_cat("an integer from ", +std::numeric_limits<T>::min(), " to ",
                   +std::numeric_limits<T>::max()));
  }

  nlohmann::json json_;
  std::string origin_;
};

}  // namespace fastvideo
