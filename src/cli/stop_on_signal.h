// SIGINT and SIGTERM while `fastvideo generate` runs: the first asks the generation in progress to
// stop at its next step (it then removes what it was writing), the second ends the process at
// once. The exit status is then 128 + the signal (130, 143), as shells report it.
#pragma once

#include "fastvideo/video_generator.h"

namespace fastvideo::cli {

class StopOnSignal {
 public:
  StopOnSignal();   // installs the handlers
  ~StopOnSignal();  // restores the previous ones
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  // The generator a signal stops (null: none yet).
  void watch(VideoGenerator* generator);
  // The signal received, 0 when none.
  int signal() const;
  // "SIGINT" or "SIGTERM".
  const char* signal_name() const;
};

}  // namespace fastvideo::cli
