#include "pipeline/stage_clock.h"

#include <fstream>
#include <string>

namespace fastvideo {

int64_t peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // kB
  }
  return 0;
}

void reset_peak_resident() {
  std::ofstream clear("/proc/self/clear_refs");
  if (clear) clear << "5";
}

StageClock::StageClock(std::vector<StageReport>& reports, std::string name)
    : reports_(reports), name_(std::move(name)), start_(std::chrono::steady_clock::now()) {
  reset_peak_resident();
}

StageClock::~StageClock() {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  reports_.push_back({name_, seconds, peak_resident_bytes()});
}

}  // namespace fastvideo
