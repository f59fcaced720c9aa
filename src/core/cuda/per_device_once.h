// Kernel attributes (the dynamic shared-memory limit, the carveout) belong to a GPU's context, so a
// kernel that runs on several GPUs needs them set on each. PerDeviceOnce runs a setup once per GPU,
// at the first call with that GPU current; a setup that throws runs again next time.
#pragma once

#include <mutex>
#include <set>

namespace fastvideo {

class PerDeviceOnce {
 public:
  template <class Setup>
  void operator()(int device, Setup&& setup) {
    std::lock_guard lock(mutex_);
    if (done_.count(device)) return;
    setup();
    done_.insert(device);
  }

 private:
  std::mutex mutex_;
  std::set<int> done_;
};

}  // namespace fastvideo
