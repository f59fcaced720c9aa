#include "core/stop_flag.h"

#include "fastvideo/error.h"

namespace fastvideo {

void StopFlag::throw_if_requested(std::string_view where) const {
  if (requested()) throw Cancelled(str_cat("stopped during ", where));
}

}  // namespace fastvideo
