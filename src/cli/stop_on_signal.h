// The stop signals (stop_signals.h: SIGINT, SIGTERM, SIGHUP) while `fastvideo generate` runs: the
// first asks the generation in progress to stop at its next step (it then removes what it was
// writing), the second ends the process at once. The exit status is then 128 + the signal (130,
// 143, 129), as shells report it.
#pragma once

#include <memory>

#include "fastvideo/video_generator.h"

namespace fastvideo::cli {

class StopOnSignal {
 public:
  StopOnSignal();   // installs the handlers and starts the thread that acts on them
  ~StopOnSignal();  // restores the previous handlers
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  // The generator a signal stops (null: none). Call watch(nullptr) before the generator goes.
  void watch(VideoGenerator* generator);
  // The signal received, 0 when none.
  int signal() const;
  // "SIGINT", "SIGTERM" or "SIGHUP".
  const char* signal_name() const;

 private:
  struct Watcher;
  std::unique_ptr<Watcher> watcher_;
};

}  // namespace fastvideo::cli
