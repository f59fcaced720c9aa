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

// Blocks until the work queued on `device` has finished (nothing to wait for on the CPU).
void synchronize_device(Device device);

// Peak bytes of device memory in use since the last reset_device_peak (0 on the CPU).
int64_t device_peak_bytes(Device device);
void reset_device_peak(Device device);

}  // namespace fastvideo
