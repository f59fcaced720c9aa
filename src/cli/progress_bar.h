// A one-line progress bar with s/it, drawn on stderr only when it is a terminal.
#pragma once

namespace fastvideo::cli {

void draw_progress(int step, int total, double seconds_per_step, void* unused);

}  // namespace fastvideo::cli
