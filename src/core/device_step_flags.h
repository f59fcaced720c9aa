// Per-step status words a device sets while the host queues later steps (issue 11: no host
// synchronisation inside a denoising step). Step i's work writes flags()[i]; once it is queued,
// mark(i) notes where it ends and starts copying flags()[i] back; value(i) then waits for step i's
// work only, not for what was queued after it. A loop that queues step i+1 before reading step i's
// word keeps the device busy while it checks. On the CPU work is done when queued: value() reads.
#pragma once

#include <cstdint>
#include <memory>

#include "core/device.h"
#include "core/tensor.h"

namespace fastvideo {

class DeviceStepFlags {
 public:
  DeviceStepFlags(Device device, int steps);
  ~DeviceStepFlags();
  DeviceStepFlags(const DeviceStepFlags&) = delete;
  DeviceStepFlags& operator=(const DeviceStepFlags&) = delete;

  const Tensor& flags() const { return flags_; }  // I32 [steps], zeros, on the device
  void mark(int step);
  int32_t value(int step);  // blocks until step's work (and all before it) has finished

 private:
  struct Readback;  // the GPU's: page-locked words and an event per step
  void check_step(int step, const char* what) const;

  Tensor flags_;
  std::unique_ptr<Readback> readback_;
};

}  // namespace fastvideo
