// The one error type of the engine: what failed, the offending name/path/shape, and what was
// expected.
#pragma once

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace fastvideo {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}

  // Throws this error again with context prefixed ("transformer/config.json: ") while it travels
  // up, keeping its type (an OutOfDeviceMemory stays one for the pipeline to name the stage).
  [[noreturn]] void rethrow_with_context(const std::string& context) const {
    throw_as_this(context + ": " + what());
    std::abort();  // throw_as_this always throws
  }

 protected:
  // Throws an error of this one's type with `message`.
  virtual void throw_as_this(const std::string& message) const { throw Error(message); }
};

// A generation stopped on request (VideoGenerator::request_stop, a signal in the CLI) before it
// finished; nothing it would have written is left behind.
class Cancelled : public Error {
 public:
  explicit Cancelled(const std::string& message) : Error(message) {}

 protected:
  void throw_as_this(const std::string& message) const override { throw Cancelled(message); }
};

// The GPU ran out of memory, or the run out of its max_device_memory budget. The message says how
// much was asked for and held; the pipeline adds the stage and the switch that would help.
class OutOfDeviceMemory : public Error {
 public:
  explicit OutOfDeviceMemory(const std::string& message) : Error(message) {}

 protected:
  void throw_as_this(const std::string& message) const override {
    throw OutOfDeviceMemory(message);
  }
};

// Builds a message from any streamable pieces: str_cat("tensor ", name, " has shape ", shape).
template <class... Parts>
std::string str_cat(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  return os.str();
}

template <class... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  throw Error(str_cat(std::forward<Parts>(parts)...));
}

}  // namespace fastvideo

#define FV_CHECK(cond, ...)                      \
  do {                                           \
    if (!(cond)) ::fastvideo::fail(__VA_ARGS__); \
  } while (0)
