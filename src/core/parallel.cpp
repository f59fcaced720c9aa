#include "core/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "core/env.h"

namespace fastvideo {

int num_threads() {
  static const int n = [] {
    int hw = int(std::max(1u, std::thread::hardware_concurrency()));
    return int(env_int("FASTVIDEO_NUM_THREADS", hw, 1, 4096));
  }();
  return n;
}

namespace {

// Workers wait for a job; the caller runs chunk 0 itself and waits for the rest.
class ThreadPool {
 public:
  explicit ThreadPool(int workers) {
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this, i] { loop(i + 1); });
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  void run(int chunks, const std::function<void(int)>& job) {
    std::unique_lock run_lock(run_mu_);  // one parallel region at a time
    {
      std::lock_guard lock(mu_);
      job_ = &job;
      chunks_ = chunks;
      pending_ = chunks - 1;
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    std::exception_ptr local;
    try {
      job(0);
    } catch (...) {
      local = std::current_exception();
    }
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    if (local) std::rethrow_exception(local);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop(int id) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
        if (id >= chunks_) continue;
      }
      try {
        (*job)(id);
      } catch (...) {
        std::lock_guard lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int chunks_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

ThreadPool& pool() {
  static ThreadPool p(num_threads() - 1);
  return p;
}

thread_local bool in_parallel_region = false;

}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int chunks = int(std::min<int64_t>(num_threads(), (n + grain - 1) / grain));
  if (chunks <= 1 || in_parallel_region) {
    fn(0, n);
    return;
  }
  const int64_t per = (n + chunks - 1) / chunks;
  pool().run(chunks, [&](int c) {
    // Reset however fn leaves: a throw on the calling thread left every later parallel_for from
    // it running on one thread.
    struct Region {
      Region() { in_parallel_region = true; }
      ~Region() { in_parallel_region = false; }
    } region;
    int64_t b = c * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  });
}

}  // namespace fastvideo
