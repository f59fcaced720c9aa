// SIGINT and SIGTERM while `fastvideo serve` runs. The handler only records the signal and wakes a
// thread through a pipe (both async-signal-safe; the signal may land on any thread, BLAS's
// included); that thread calls `stop` as ordinary code, and again every 20 ms until finished(): an
// HTTP server that was not listening yet when the signal came is stopped as soon as it is. A
// second signal ends the process at once, killed by it. A signal the process inherited as ignored
// stays ignored.
#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <thread>

namespace fastvideo::cli {

class ServeSignals {
 public:
  explicit ServeSignals(std::function<void()> stop);
  ~ServeSignals();  // restores the previous handlers
  ServeSignals(const ServeSignals&) = delete;
  ServeSignals& operator=(const ServeSignals&) = delete;

  // Whether a signal came.
  bool received() const;
  // The server stopped: no more calls to `stop`.
  void finished() { finished_ = true; }

 private:
  void watch();

  std::function<void()> stop_;
  int pipe_fds_[2] = {-1, -1};
  struct sigaction previous_int_ {
  }, previous_term_{};
  bool int_handled_ = false, term_handled_ = false;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace fastvideo::cli
