#include "stop_signals.h"

namespace fastvideo::cli {

const char* stop_signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
  }
}

StopSignalHandlers::StopSignalHandlers(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int i = 0; i < kCount; ++i) {
    sigaction(kStopSignals[i], nullptr, &previous_[i]);
    if (previous_[i].sa_handler == SIG_IGN) continue;
    sigaction(kStopSignals[i], &action, nullptr);
    handled_[i] = true;
  }
}

StopSignalHandlers::~StopSignalHandlers() {
  for (int i = 0; i < kCount; ++i) {
    if (handled_[i]) sigaction(kStopSignals[i], &previous_[i], nullptr);
  }
}

}  // namespace fastvideo::cli
