#include "ops/gemm_autotune.h"

#include <atomic>

namespace fastvideo::ops {

namespace {
thread_local bool active = false;
std::atomic<double> tuning_seconds{0.0};
std::atomic<int> tuned_plans{0};
}  // namespace

GemmAutotuneScope::GemmAutotuneScope(bool on) : previous_(active) { active = on || previous_; }
GemmAutotuneScope::~GemmAutotuneScope() { active = previous_; }

bool gemm_autotune_active() { return active; }

double gemm_autotune_seconds() { return tuning_seconds.load(); }

int gemm_autotuned_plans() { return tuned_plans.load(); }

void record_gemm_autotune(double seconds) {
  tuning_seconds.fetch_add(seconds);
  tuned_plans.fetch_add(1);
}

}  // namespace fastvideo::ops
