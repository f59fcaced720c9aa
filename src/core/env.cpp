#include "core/env.h"

#include <cstdlib>

#include "core/parse_number.h"
#include "fastvideo/error.h"

namespace fastvideo {

std::optional<std::string> env_string(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

int64_t env_int(const char* name, int64_t fallback, int64_t min, int64_t max) {
  auto v = env_string(name);
  if (!v) return fallback;
  auto parsed = parse_whole<int64_t>(*v);
  if (!parsed || *parsed < min || *parsed > max) {
    fail("environment variable ", name, "='", *v, "' is not a whole number in [", min, ", ", max,
         "]");
  }
  return *parsed;
}

double env_double(const char* name, double fallback, double min, double max) {
  auto v = env_string(name);
  if (!v) return fallback;
  auto parsed = parse_double(*v);
  if (!parsed || !(*parsed >= min && *parsed <= max)) {
    fail("environment variable ", name, "='", *v, "' is not a number in [", min, ", ", max, "]");
  }
  return *parsed;
}

}  // namespace fastvideo
