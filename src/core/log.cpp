#include "fastvideo/log.h"

#include <cstdio>
#include <mutex>

#include "core/env.h"

namespace fastvideo::log {

Level threshold() {
  static const Level level = [] {
    auto v = env_string("FASTVIDEO_LOG_LEVEL");
    if (!v) return Level::Info;
    std::string s = *v;
    for (auto& c : s) c = char(std::tolower(c));
    if (s == "debug") return Level::Debug;
    if (s == "info") return Level::Info;
    if (s == "warning" || s == "warn") return Level::Warning;
    if (s == "error") return Level::Error;
    fail("environment variable FASTVIDEO_LOG_LEVEL='", *v,
         "' is not one of debug, info, warning, error");
  }();
  return level;
}

void write(Level level, const std::string& message) {
  static std::mutex mu;
  static const char* names[] = {"debug", "info", "warning", "error"};
  std::lock_guard lock(mu);
  std::fprintf(stderr, "[fastvideo %s] %s\n", names[int(level)], message.c_str());
}

}  // namespace fastvideo::log
