// The device an attention backend is asked to run on, as the backend system sees it: the CPU, or
// a GPU with its name and compute capability. A plain value, so tests can describe a GPU this
// machine does not have (an sm_90 H200, an sm_100 B200).
#pragma once

#include <compare>
#include <string>

#include "core/device.h"

namespace fastvideo {

struct ComputeCapability {
  int major = 0, minor = 0;
  auto operator<=>(const ComputeCapability&) const = default;
  std::string sm() const;  // "sm_90", "sm_100"
};

struct AttentionDevice {
  Device device;                 // cpu, or cuda:N
  std::string name;              // "cpu" or the GPU's name ("NVIDIA H200")
  ComputeCapability capability;  // {0, 0} on the CPU

  bool is_gpu() const { return !device.is_cpu(); }
  std::string describe() const;  // "NVIDIA H200 (cuda:0, sm_90)" or "the CPU (no GPU)"

  static AttentionDevice cpu();
  static AttentionDevice gpu(int index, std::string name, ComputeCapability capability);
};

// The device a pipeline on `device` runs on, its name and capability read through CudaContext.
AttentionDevice attention_device_for(Device device);

// This machine's first GPU when the build has CUDA and a usable GPU exists, else the CPU. *why_cpu
// (if given) says why no GPU was taken: "this build has no CUDA backend" or the CUDA error.
AttentionDevice this_machine_attention_device(std::string* why_cpu = nullptr);

}  // namespace fastvideo
