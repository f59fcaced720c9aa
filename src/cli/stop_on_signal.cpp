#include "stop_on_signal.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

namespace fastvideo::cli {

namespace {

volatile std::sig_atomic_t g_signal = 0;
std::atomic<VideoGenerator*> g_generator{nullptr};
struct sigaction g_previous_int, g_previous_term;

// Async-signal-safe only: an atomic store through request_stop, write(2), and on a second signal
// the default action.
void on_signal(int sig) {
  if (g_signal != 0) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal = sig;
  static const char kMessage[] =
      "\nfastvideo: stopping after the current step (send the signal again to quit at once)\n";
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  if (VideoGenerator* g = g_generator.load()) g->request_stop();
}

}  // namespace

StopOnSignal::StopOnSignal() {
  static_assert(std::atomic<VideoGenerator*>::is_always_lock_free);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopOnSignal::~StopOnSignal() {
  g_generator.store(nullptr);
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

void StopOnSignal::watch(VideoGenerator* generator) {
  g_generator.store(generator);
  if (generator != nullptr && g_signal != 0) generator->request_stop();
}

int StopOnSignal::signal() const { return g_signal; }

const char* StopOnSignal::signal_name() const { return g_signal == SIGTERM ? "SIGTERM" : "SIGINT"; }

}  // namespace fastvideo::cli
