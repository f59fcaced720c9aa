// The stop signals (stop_signals.h: SIGINT, SIGTERM, SIGHUP) while `fastvideo serve` runs. The
// handler only records the signal and wakes a thread through a pipe (both async-signal-safe; the
// signal may land on any thread, BLAS's included); that thread calls `stop` as ordinary code, and
// again every 20 ms until finished(): an HTTP server that was not listening yet when the signal
// came is stopped as soon as it is. A second signal quits at once: the thread calls `quit` (which
// removes the server's files without waiting for anything) and the process is killed by the signal;
// a third kills it even if `quit` hangs. A signal the process inherited as ignored stays ignored.
#pragma once

#include <atomic>
#include <csignal>
#include <functional>
#include <optional>
#include <thread>

#include "stop_signals.h"

namespace fastvideo::cli {

class ServeSignals {
 public:
  ServeSignals(std::function<void()> stop, std::function<void()> quit);
  ~ServeSignals();  // restores the previous handlers
  ServeSignals(const ServeSignals&) = delete;
  ServeSignals& operator=(const ServeSignals&) = delete;

  // Whether a signal came.
  bool received() const;
  // The server stopped: no more calls to `stop`.
  void finished() { finished_ = true; }

 private:
  void watch();

  std::function<void()> stop_, quit_;
  int pipe_fds_[2] = {-1, -1};
  std::optional<StopSignalHandlers> handlers_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace fastvideo::cli
