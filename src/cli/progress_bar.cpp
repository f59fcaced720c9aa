#include "progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace fastvideo::cli {

void draw_progress(int step, int total, double seconds_per_step, void*) {
  static const bool tty = ::isatty(STDERR_FILENO);
  if (!tty) return;
  const int width = 30, filled = total ? step * width / total : width;
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(width), ' ');
  std::fprintf(stderr, "\rdenoise [%s] %d/%d  %.2f s/it", bar.c_str(), step, total,
               seconds_per_step);
  if (step == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

}  // namespace fastvideo::cli
