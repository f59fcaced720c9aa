// Environment variables, parsed strictly: a bad value is an error naming the variable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace fastvideo {

std::optional<std::string> env_string(const char* name);
int64_t env_int(const char* name, int64_t fallback, int64_t min, int64_t max);
double env_double(const char* name, double fallback, double min, double max);

}  // namespace fastvideo
