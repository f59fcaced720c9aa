#include "serve_signals.h"

#include <poll.h>
#include <unistd.h>

#include <cstdio>

#include "fastvideo/error.h"

namespace fastvideo::cli {

namespace {

std::atomic<int> g_received{0};
std::atomic<int> g_quit{0};  // the second signal, which may be another than the first
int g_wake = -1;

// What the pipe carries to the watching thread.
constexpr char kFinished = 0, kStop = 1, kQuit = 2;

void on_signal(int sig) {
  int none = 0;
  char wake = kStop;
  if (!g_received.compare_exchange_strong(none, sig)) {
    if (echoes_first_stop_signal(sig, none)) return;
    // The second: the thread removes the files and raises it again; a third kills at once.
    std::signal(sig, SIG_DFL);
    int no_second = 0;
    if (!g_quit.compare_exchange_strong(no_second, sig)) {
      std::raise(sig);  // a third: its default action once this handler returns
      return;
    }
    wake = kQuit;
  } else {
    first_stop_signal();
  }
  [[maybe_unused]] const ssize_t n = ::write(g_wake, &wake, 1);
}

}  // namespace

ServeSignals::ServeSignals(std::function<void()> stop, std::function<void()> quit)
    : stop_(std::move(stop)), quit_(std::move(quit)) {
  FV_CHECK(::pipe(pipe_fds_) == 0, "cannot create the signal pipe");
  g_wake = pipe_fds_[1];
  g_received = 0;
  g_quit = 0;
  thread_ = std::thread([this] { watch(); });
  handlers_.emplace(on_signal);
}

ServeSignals::~ServeSignals() {
  handlers_.reset();
  [[maybe_unused]] const ssize_t n = ::write(pipe_fds_[1], &kFinished, 1);
  thread_.join();
  ::close(pipe_fds_[0]);
  ::close(pipe_fds_[1]);
}

bool ServeSignals::received() const { return g_received != 0; }

void ServeSignals::watch() {
  char byte = kFinished;
  if (::read(pipe_fds_[0], &byte, 1) != 1 || byte == kFinished) return;
  const int sig = g_received;
  std::fprintf(stderr,
               "fastvideo serve: %s: stopping (no new requests; the running job is cancelled; "
               "send the signal again to quit at once)\n",
               stop_signal_name(sig));
  pollfd wake{pipe_fds_[0], POLLIN, 0};
  while (true) {
    if (!finished_) stop_();
    if (::poll(&wake, 1, finished_ ? -1 : 20) != 1) continue;
    if (::read(pipe_fds_[0], &byte, 1) != 1 || byte == kFinished) return;
    if (byte == kQuit) {
      const int second = g_quit;
      std::fprintf(stderr, "fastvideo serve: %s after %s: quitting at once\n",
                   stop_signal_name(second), stop_signal_name(sig));
      quit_();
      std::raise(second);  // its handler is the default now
    }
  }
}

}  // namespace fastvideo::cli
