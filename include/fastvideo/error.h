// The one error type of the engine: what failed, the offending name/path/shape, and what was
// expected.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace fastvideo {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}

  // Prefix context ("transformer/config.json: ") while the error travels up.
  Error with_context(const std::string& context) const { return Error(context + ": " + what()); }
};

// A generation stopped on request (VideoGenerator::request_stop, a signal in the CLI) before it
// finished; nothing it would have written is left behind.
class Cancelled : public Error {
 public:
  explicit Cancelled(const std::string& message) : Error(message) {}
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
