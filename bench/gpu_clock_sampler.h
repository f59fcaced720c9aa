// The SM clock and board power of one GPU, sampled through NVML on a host thread while a bench
// row's timed calls run, so that each row says at which clock it was timed: under its power cap
// an H100's clock moves from row to row by as much as the kernels differ (docs/perf.md, sessions
// 58-59). NVML comes with the driver (libnvidia-ml.so.1) and is loaded at run time, since the
// toolkit packages this builds against have no nvml.h; where it is missing the summary is empty.
#pragma once

#include <atomic>
#include <thread>

namespace fastvideo::bench {

struct ClockSummary {
  int samples = 0;  // 0: nothing sampled (no NVML, or the row ended before the first sample)
  double mean_mhz = 0, min_mhz = 0, mean_watts = 0;
};

class GpuClockSampler {
 public:
  explicit GpuClockSampler(int cuda_device);  // reads nothing yet; NVML is opened here if present
  ~GpuClockSampler();
  GpuClockSampler(const GpuClockSampler&) = delete;
  GpuClockSampler& operator=(const GpuClockSampler&) = delete;

  void start();         // samples every kPeriodMs until stop()
  ClockSummary stop();  // what was sampled since start()
  bool available() const { return device_ != nullptr; }

  static constexpr int kPeriodMs = 2;

 private:
  void* device_ = nullptr;  // nvmlDevice_t
  std::thread thread_;
  std::atomic<bool> running_{false};
  ClockSummary summary_;
};

}  // namespace fastvideo::bench
