// A request to stop long work, made from another thread or a signal handler and polled by the work
// at its boundaries (before each pipeline stage, after each denoising step, before a written video
// is moved into place). Requesting is one store to a lock-free atomic, so it is safe inside a
// signal handler.
#pragma once

#include <atomic>
#include <string_view>

namespace fastvideo {

class StopFlag {
 public:
  void request() noexcept { requested_.store(true, std::memory_order_relaxed); }
  bool requested() const noexcept { return requested_.load(std::memory_order_relaxed); }
  void clear() noexcept { requested_.store(false, std::memory_order_relaxed); }
  // Throws Cancelled ("stopped during <where>") when a stop was requested.
  void throw_if_requested(std::string_view where) const;

 private:
  static_assert(std::atomic<bool>::is_always_lock_free);
  std::atomic<bool> requested_{false};
};

class Cancelled;
// Throws `inner` ("stopped during <where>") again as a stop within `outer`: "stopped during
// <outer>, <where>)". outer ends open: "denoising (step 3 of 50".
[[noreturn]] void throw_stop_within(const Cancelled& inner, std::string_view outer);

// Polls `stop` when there is one.
inline void check_stop(const StopFlag* stop, std::string_view where) {
  if (stop != nullptr) stop->throw_if_requested(where);
}

}  // namespace fastvideo
