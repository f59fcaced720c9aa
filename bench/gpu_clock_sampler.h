// The SM clock of one GPU, read through NVML while a bench row's timed calls run, so that each row
// says at which clock it was timed: under its power cap an H100's clock moves from row to row by
// as much as the kernels differ (docs/perf.md, sessions 58-59). One reading as the row starts,
// one every period_ms on a host thread while it runs (NVML calls take the driver's lock, so not
// too often; period 0 turns the sampler off, to check that it does not move the timings), one as
// it ends, with the board power. NVML comes with the driver (libnvidia-ml.so.1) and is loaded at
// run time, since the toolkit packages this builds against have no nvml.h; without it the
// summary is empty.
#pragma once

#include <atomic>
#include <thread>

namespace fastvideo::bench {

struct ClockSummary {
  int samples = 0;  // SM clock readings; 0: none (no NVML, or the sampler is off)
  double mean_mhz = 0, min_mhz = 0;
  double watts = -1;  // NVML's power reading as the row ended (a 1 s average on Hopper); -1: none
};

class GpuClockSampler {
 public:
  GpuClockSampler(int cuda_device, int period_ms);  // opens NVML if present and period_ms > 0
  ~GpuClockSampler();
  GpuClockSampler(const GpuClockSampler&) = delete;
  GpuClockSampler& operator=(const GpuClockSampler&) = delete;

  bool available() const { return device_ != nullptr; }
  void start();
  ClockSummary stop();  // what was read since start()

 private:
  void read_clock(ClockSummary& s, double& mhz_sum) const;

  void* device_ = nullptr;  // nvmlDevice_t
  int period_ms_;
  std::thread thread_;
  std::atomic<bool> running_{false};
  ClockSummary summary_;
  double mhz_sum_ = 0;
};

}  // namespace fastvideo::bench
