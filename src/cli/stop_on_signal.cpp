#include "stop_on_signal.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "fastvideo/error.h"
#include "stop_signals.h"

namespace fastvideo::cli {

namespace {

// The handler may run on any thread (the process's signals reach BLAS and CUDA threads too), so it
// only stores the signal and wakes the watcher thread through a pipe, both async-signal-safe.
std::atomic<int> g_signal{0};
int g_wake_fd = -1;

void on_signal(int sig) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, sig)) {  // the second: quit at once
    if (echoes_first_stop_signal(sig, expected)) return;
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  first_stop_signal();
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(g_wake_fd, &byte, 1);
}

}  // namespace

// Acts on a signal in an ordinary thread: asks the watched generator to stop, under the mutex
// that watch() takes, so the generator cannot go away in between.
struct StopOnSignal::Watcher {
  int pipe_fds[2] = {-1, -1};
  std::mutex mutex;
  VideoGenerator* generator = nullptr;
  std::optional<StopSignalHandlers> handlers;
  std::thread thread;

  void run() {
    char byte = 0;
    while (::read(pipe_fds[0], &byte, 1) == 1 && byte == 1) {
      std::lock_guard lock(mutex);
      // No generator yet: the model is loading, which polls the signal itself.
      std::fprintf(stderr, "\nfastvideo: stopping %s(send the signal again to quit at once)\n",
                   generator != nullptr ? "after the current step " : "");
      if (generator != nullptr) generator->request_stop();
    }
  }
};

StopOnSignal::StopOnSignal() : watcher_(std::make_unique<Watcher>()) {
  Watcher& w = *watcher_;
  FV_CHECK(::pipe(w.pipe_fds) == 0, "cannot create the signal pipe");
  g_wake_fd = w.pipe_fds[1];
  g_signal = 0;
  w.thread = std::thread([&w] { w.run(); });
  w.handlers.emplace(on_signal);
}

StopOnSignal::~StopOnSignal() {
  Watcher& w = *watcher_;
  w.handlers.reset();
  const char stop = 0;
  [[maybe_unused]] const ssize_t n = ::write(w.pipe_fds[1], &stop, 1);
  w.thread.join();
  ::close(w.pipe_fds[0]);
  ::close(w.pipe_fds[1]);
}

void StopOnSignal::watch(VideoGenerator* generator) {
  std::lock_guard lock(watcher_->mutex);
  watcher_->generator = generator;
  if (generator != nullptr && g_signal != 0) generator->request_stop();
}

int StopOnSignal::signal() const { return g_signal; }

const char* StopOnSignal::signal_name() const { return stop_signal_name(g_signal); }

}  // namespace fastvideo::cli
