#include "fastvideo/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "core/env.h"

namespace fastvideo::log {

namespace {

Level level_from_env() {
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
}

// -1 until set_threshold: then the environment is not read at all.
std::atomic<int> chosen_level{-1};

std::mutex sink_mutex;  // guards the sink and serializes writes
Sink sink_fn = nullptr;
void* sink_user = nullptr;

}  // namespace

Level threshold() {
  if (const int chosen = chosen_level.load(std::memory_order_relaxed); chosen >= 0) {
    return Level(chosen);
  }
  static const Level from_env = level_from_env();
  return from_env;
}

void set_threshold(Level level) { chosen_level.store(int(level), std::memory_order_relaxed); }

void set_sink(Sink sink, void* user) {
  const std::lock_guard lock(sink_mutex);
  sink_fn = sink;
  sink_user = user;
}

void write(Level level, const std::string& message) {
  static const char* names[] = {"debug", "info", "warning", "error"};
  const std::lock_guard lock(sink_mutex);
  if (sink_fn) {
    sink_fn(level, message, sink_user);
    return;
  }
  std::fprintf(stderr, "[fastvideo %s] %s\n", names[int(level)], message.c_str());
}

}  // namespace fastvideo::log
