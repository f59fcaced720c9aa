#include "pipeline/stage_clock.h"

#include <fstream>
#include <string>

#include "core/compute_device.h"
#include "fastvideo/log.h"

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

StageClock::StageClock(std::vector<StageReport>& reports, std::string name, Device device)
    : reports_(reports), name_(std::move(name)), device_(device) {
  reset_peak_resident();
  if (!device_.is_cpu()) {
    synchronize_device(device_);  // earlier stages' work is not this stage's time
    reset_device_peak(device_);
  }
  start_ = std::chrono::steady_clock::now();
}

StageClock::~StageClock() {
  try {
    synchronize_device(device_);
  } catch (const Error& e) {
    // Destructors must not throw; the error surfaces again at the next device call.
    log::error("stage ", name_, ": waiting for ", device_.name(), " failed: ", e.what());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  reports_.push_back({name_, seconds, peak_resident_bytes(), device_peak_bytes(device_)});
}

}  // namespace fastvideo
