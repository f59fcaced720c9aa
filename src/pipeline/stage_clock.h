// Wall time and peak resident memory of one pipeline stage (DESIGN §1: every stage reports both).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "fastvideo/video_generator.h"

namespace fastvideo {

// Peak resident set size of this process since the last reset (Linux VmHWM), in bytes.
int64_t peak_resident_bytes();
// Starts a new peak window (writes 5 to /proc/self/clear_refs; a no-op where unsupported).
void reset_peak_resident();

class StageClock {
 public:
  StageClock(std::vector<StageReport>& reports, std::string name);
  ~StageClock();  // records the stage even when it throws, so partial timings stay honest

 private:
  std::vector<StageReport>& reports_;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace fastvideo
