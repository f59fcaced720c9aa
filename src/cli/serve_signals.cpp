#include "serve_signals.h"

#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <tuple>

#include "fastvideo/error.h"

namespace fastvideo::cli {

namespace {

std::atomic<int> g_received{0};
int g_wake = -1;

void on_signal(int sig) {
  int none = 0;
  if (!g_received.compare_exchange_strong(none, sig)) {  // the second: quit at once
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  const char wake = 1;
  [[maybe_unused]] const ssize_t n = ::write(g_wake, &wake, 1);
}

}  // namespace

ServeSignals::ServeSignals(std::function<void()> stop) : stop_(std::move(stop)) {
  FV_CHECK(::pipe(pipe_fds_) == 0, "cannot create the signal pipe");
  g_wake = pipe_fds_[1];
  g_received = 0;
  thread_ = std::thread([this] { watch(); });
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (auto [sig, previous, handled] : {std::tuple{SIGINT, &previous_int_, &int_handled_},
                                        std::tuple{SIGTERM, &previous_term_, &term_handled_}}) {
    sigaction(sig, nullptr, previous);
    if (previous->sa_handler == SIG_IGN) continue;
    sigaction(sig, &action, nullptr);
    *handled = true;
  }
}

ServeSignals::~ServeSignals() {
  if (int_handled_) sigaction(SIGINT, &previous_int_, nullptr);
  if (term_handled_) sigaction(SIGTERM, &previous_term_, nullptr);
  const char quit = 0;
  [[maybe_unused]] const ssize_t n = ::write(pipe_fds_[1], &quit, 1);
  thread_.join();
  ::close(pipe_fds_[0]);
  ::close(pipe_fds_[1]);
}

bool ServeSignals::received() const { return g_received != 0; }

void ServeSignals::watch() {
  char byte = 0;
  if (::read(pipe_fds_[0], &byte, 1) != 1 || byte != 1) return;  // 0: the destructor
  std::fprintf(stderr,
               "fastvideo serve: %s: stopping (no new requests; the running job is cancelled; "
               "send the signal again to quit at once)\n",
               g_received == SIGTERM ? "SIGTERM" : "SIGINT");
  pollfd wake{pipe_fds_[0], POLLIN, 0};
  while (!finished_) {
    stop_();
    if (::poll(&wake, 1, 20) == 1) break;  // the destructor
  }
  [[maybe_unused]] const ssize_t n = ::read(pipe_fds_[0], &byte, 1);
}

}  // namespace fastvideo::cli
