#include "ops/gemm_autotune.h"

#include <atomic>

namespace fastvideo::ops {

namespace {
thread_local bool active = false;
std::atomic<double> tuning_seconds{0.0};
}  // namespace

GemmAutotuneScope::GemmAutotuneScope(bool on) : previous_(active) { active = on || previous_; }
GemmAutotuneScope::~GemmAutotuneScope() { active = previous_; }

bool gemm_autotune_active() { return active; }

double gemm_autotune_seconds() { return tuning_seconds.load(); }

void add_gemm_autotune_seconds(double seconds) {
  double now = tuning_seconds.load();
  while (!tuning_seconds.compare_exchange_weak(now, now + seconds)) {
  }
}

}  // namespace fastvideo::ops
