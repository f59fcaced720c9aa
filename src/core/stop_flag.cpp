#include "core/stop_flag.h"

#include "fastvideo/error.h"

namespace fastvideo {

void StopFlag::throw_if_requested(std::string_view where) const {
  if (requested()) throw Cancelled(str_cat("stopped during ", where));
}

void throw_stop_within(const Cancelled& inner, std::string_view outer) {
  constexpr std::string_view kPrefix = "stopped during ";
  std::string_view where = inner.what();
  if (where.substr(0, kPrefix.size()) == kPrefix) where.remove_prefix(kPrefix.size());
  throw Cancelled(str_cat(kPrefix, outer, ", ", where, ")"));
}

}  // namespace fastvideo
