// Logging with levels from FASTVIDEO_LOG_LEVEL (debug, info, warning, error; default info), or
// set_threshold; lines go to stderr as "[fastvideo LEVEL] message", or to a sink of the program's.
#pragma once

#include <string>

#include "fastvideo/error.h"

namespace fastvideo::log {

enum class Level { Debug = 0, Info = 1, Warning = 2, Error = 3 };

Level threshold();
// From now on, instead of FASTVIDEO_LOG_LEVEL. Safe from any thread.
void set_threshold(Level level);
// Where lines at or above the threshold go from now on (nullptr: stderr again). Called with one
// line at a time, never from two threads at once; it must not log itself.
using Sink = void (*)(Level level, const std::string& message, void* user);
void set_sink(Sink sink, void* user);
void write(Level level, const std::string& message);

template <class... P>
void debug(P&&... p) {
  if (threshold() <= Level::Debug) write(Level::Debug, str_cat(std::forward<P>(p)...));
}
template <class... P>
void info(P&&... p) {
  if (threshold() <= Level::Info) write(Level::Info, str_cat(std::forward<P>(p)...));
}
template <class... P>
void warning(P&&... p) {
  if (threshold() <= Level::Warning) write(Level::Warning, str_cat(std::forward<P>(p)...));
}
template <class... P>
void error(P&&... p) {
  write(Level::Error, str_cat(std::forward<P>(p)...));
}

}  // namespace fastvideo::log
