#include "core/env.h"

#include <cstdlib>

#include "core/parse_number.h"
#include "fastvideo/error.h"
#include "fastvideo/log.h"

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

void warn_env_not_used(const char* name, const std::string& value, const std::string& winner) {
  log::warning(name, "=", value, " is set, but ", winner, " takes precedence; the variable is not used");
}

}  // namespace fastvideo
