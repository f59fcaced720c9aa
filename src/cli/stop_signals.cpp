#include "stop_signals.h"

#include <atomic>
#include <cstdint>
#include <ctime>

namespace fastvideo::cli {

namespace {

// When the first stop signal came (CLOCK_MONOTONIC ns); 0 while none has, or while its handler
// has not stored it yet.
std::atomic<int64_t> g_first_ns{0};
static_assert(std::atomic<int64_t>::is_always_lock_free);

int64_t monotonic_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

void first_stop_signal() { g_first_ns.store(monotonic_ns()); }

bool echoes_first_stop_signal(int sig, int first) {
  const int64_t first_ns = g_first_ns.load();
  // 0: the first's handler is running on another thread right now.
  return sig == first && (first_ns == 0 || monotonic_ns() - first_ns < 200'000'000);
}

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
  g_first_ns.store(0);
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
