// Whole-string number parsing: "3x" or "" is not a number.
#pragma once

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace fastvideo {

// A whole number of type T in decimal digits, with a leading + as Python's int() and YAML read it
// (not "+-1"); nothing past T's range.
template <class T>
std::optional<T> parse_whole(const std::string& s) {
  T v{};
  const char* begin = s.data() + (s.size() > 1 && s[0] == '+' && s[1] != '-');
  auto [p, ec] = std::from_chars(begin, s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Decimal only, as written in full: strtod's leading blanks and hex floats ("0x1p-1") are refused
// (QA audit: " 0.5" was taken where "0.5 " was not).
inline std::optional<double> parse_double(const std::string& s) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0])) ||
      s.find_first_of("xX") != std::string::npos)
    return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

// A memory size: whole bytes ("25769803776") or a number with a unit, binary (KiB, MiB, GiB, TiB,
// or K, M, G, T) or decimal (KB, MB, GB, TB): "24GiB", "7.5G", "8000MB". Nothing else.
inline std::optional<int64_t> parse_byte_size(const std::string& s) {
  if (auto bytes = parse_whole<int64_t>(s)) return bytes;
  static const std::pair<const char*, double> units[] = {
      {"KiB", 0x1p10}, {"MiB", 0x1p20}, {"GiB", 0x1p30}, {"TiB", 0x1p40},
      {"KB", 1e3},     {"MB", 1e6},     {"GB", 1e9},     {"TB", 1e12},
      {"K", 0x1p10},   {"M", 0x1p20},   {"G", 0x1p30},   {"T", 0x1p40}};
  for (const auto& [unit, scale] : units) {
    const std::string u = unit;
    if (s.size() <= u.size() || s.compare(s.size() - u.size(), u.size(), u) != 0) continue;
    const std::optional<double> v = parse_double(s.substr(0, s.size() - u.size()));
    if (!v || !(*v >= 0) || *v * scale > 9.2e18) return std::nullopt;
    return int64_t(*v * scale);
  }
  return std::nullopt;
}

}  // namespace fastvideo
