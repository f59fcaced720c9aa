// Where a pipeline runs: GeneratorOptions::device ("cpu", "cuda" or "cuda:N") as a Device, and
// what a stage needs from that device (waiting for its queued work, its memory peak).
#pragma once

#include <cstdint>
#include <string>

#include "core/device.h"

namespace fastvideo {

// GPU 0 when this build has the CUDA backend and the GPU is usable (sm_80 or newer), else the CPU
// and, in *why_cpu (if given), why.
Device usable_gpu_or_cpu(std::string* why_cpu = nullptr);

// "cpu" -> CPU; "cuda" -> GPU 0; "cuda:N" -> GPU N; "auto" -> usable_gpu_or_cpu (the choice and
// its reason logged). Anything else, a GPU this machine does not have, or a
// GPU in a build without the CUDA backend is an Error naming the value.
Device parse_compute_device(const std::string& value);

// The GPUs this process sees (0 without the CUDA backend or a driver).
int cuda_device_count();

// Blocks until the work queued on `device` has finished (nothing to wait for on the CPU).
void synchronize_device(Device device);

// The device memory a run can plan with (zeros on the CPU).
struct DeviceMemory {
  int64_t free = 0;    // free on the GPU now (cudaMemGetInfo)
  int64_t in_use = 0;  // held by this process's tensors
  int64_t cached = 0;  // freed by this process's tensors, kept for reuse
  int64_t budget = 0;  // max_device_memory, 0: none
  // What new tensors can still get: the GPU's free memory plus this process's cache, and no
  // more than the budget leaves when there is one.
  int64_t available() const;
};
DeviceMemory device_memory(Device device);

// max_device_memory for `device` while this object lives (0: no limit; on the CPU only 0 is
// accepted): this process's allocator refuses to hold more from the driver, with an
// OutOfDeviceMemory error. The previous budget comes back after.
class DeviceMemoryBudget {
 public:
  DeviceMemoryBudget(Device device, int64_t bytes);
  ~DeviceMemoryBudget();
  DeviceMemoryBudget(const DeviceMemoryBudget&) = delete;
  DeviceMemoryBudget& operator=(const DeviceMemoryBudget&) = delete;

 private:
  Device device_;
  int64_t previous_ = 0;
};

// Peak bytes of device memory in use since the last reset_device_peak (0 on the CPU).
int64_t device_peak_bytes(Device device);
void reset_device_peak(Device device);

}  // namespace fastvideo
