// Numbers in messages and metadata.
#pragma once

#include <charconv>
#include <string>

namespace fastvideo {

// The shortest text that reads back as the same double (5, 0.8, 100.0000001, 1e-30): a stream's
// default six digits printed 100.0000001 as 100, beside a bound of 100.
inline std::string shortest(double v) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, ec == std::errc() ? end : buffer);
}

}  // namespace fastvideo
