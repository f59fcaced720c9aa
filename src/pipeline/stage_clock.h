// Wall time and peak memory of one pipeline stage (DESIGN §1: every stage reports both): host
// resident memory always, device memory too when the pipeline runs on a GPU.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/device.h"
#include "fastvideo/video_generator.h"

namespace fastvideo {

// Peak resident set size of this process since the last reset (Linux VmHWM), in bytes.
int64_t peak_resident_bytes();
// Starts a new peak window (writes 5 to /proc/self/clear_refs; a no-op where unsupported).
void reset_peak_resident();

class StageClock {
 public:
  // On a GPU the device's memory peak is reset here, and the stage's end waits for the work it
  // queued, so the wall time covers the kernels and not just their launches.
  StageClock(std::vector<StageReport>& reports, std::string name, Device device = Device::cpu());
  ~StageClock();  // records the stage even when it throws, so partial timings stay honest

 private:
  std::vector<StageReport>& reports_;
  std::string name_;
  Device device_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace fastvideo
