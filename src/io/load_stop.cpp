#include "io/load_stop.h"

#include "fastvideo/error.h"

namespace fastvideo {

namespace {
thread_local const std::function<bool()>* t_stop_requested = nullptr;
}  // namespace

LoadStopScope::LoadStopScope(const std::function<bool()>& stop_requested)
    : previous_(t_stop_requested) {
  if (stop_requested) t_stop_requested = &stop_requested;
}

LoadStopScope::~LoadStopScope() { t_stop_requested = previous_; }

void check_load_stop(std::string_view what) {
  if (t_stop_requested != nullptr && (*t_stop_requested)()) {
    throw Cancelled(str_cat("stopped during loading ", what));
  }
}

}  // namespace fastvideo
