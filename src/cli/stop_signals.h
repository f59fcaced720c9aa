// The signals that ask `fastvideo generate`, `make-tiny-model` and `serve` to stop: SIGINT
// (Ctrl-C), SIGTERM, and SIGHUP (the terminal or ssh session closed: without a handler the process
// died and left its work behind). A signal the process inherited as ignored (nohup, a background
// job of a non-interactive shell) stays ignored.
#pragma once

#include <csignal>

namespace fastvideo::cli {

inline constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

// "SIGINT", "SIGTERM" or "SIGHUP".
const char* stop_signal_name(int sig);

// For the handlers, async-signal-safe. A second stop signal means "quit at once", but one sender
// may deliver its signal twice: GNU timeout signals the process and then its process group,
// microseconds apart (QA audit: `timeout -s INT` sometimes quit at once and left its work). Call
// first_stop_signal() when the first arrives; echoes_first_stop_signal(sig, first) then says
// whether `sig` is that one again within 200 ms, to be taken as the first.
void first_stop_signal();
bool echoes_first_stop_signal(int sig, int first);

// `handler` on every stop signal the process does not ignore, while this object lives.
class StopSignalHandlers {
 public:
  explicit StopSignalHandlers(void (*handler)(int));
  ~StopSignalHandlers();  // restores the previous handlers
  StopSignalHandlers(const StopSignalHandlers&) = delete;
  StopSignalHandlers& operator=(const StopSignalHandlers&) = delete;

 private:
  static constexpr int kCount = int(sizeof kStopSignals / sizeof kStopSignals[0]);
  struct sigaction previous_[kCount] = {};
  bool handled_[kCount] = {};
};

}  // namespace fastvideo::cli
