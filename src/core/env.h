// Environment variables, parsed strictly: a bad value is an error naming the variable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace fastvideo {

std::optional<std::string> env_string(const char* name);
int64_t env_int(const char* name, int64_t fallback, int64_t min, int64_t max);
double env_double(const char* name, double fallback, double min, double max);

// Logs that `name`, set to `value`, is not used because `winner` (the setting given explicitly,
// e.g. "dist_timeout 5") takes precedence: a variable set for a run is not taken as used.
void warn_env_not_used(const char* name, const std::string& value, const std::string& winner);

}  // namespace fastvideo
