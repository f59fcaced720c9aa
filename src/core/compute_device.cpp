#include "core/compute_device.h"

#include "core/parse_number.h"
#include "fastvideo/error.h"
#include "fastvideo/log.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_context.h"
#include "core/cuda/device_copy.h"
#endif

namespace fastvideo {

Device usable_gpu_or_cpu(std::string* why_cpu) {
#ifdef FASTVIDEO_HAVE_CUDA
  try {
    CudaContext::get(0);  // exists and is sm_80 or newer
    return Device::cuda(0);
  } catch (const Error& e) {
    if (why_cpu) *why_cpu = e.what();
  }
#else
  if (why_cpu) *why_cpu = "this build has no CUDA backend";
#endif
  return Device::cpu();
}

Device parse_compute_device(const std::string& value) {
  if (value == "cpu") return Device::cpu();
  if (value == "auto") {
    std::string why_cpu;
    const Device device = usable_gpu_or_cpu(&why_cpu);
    if (device.is_cpu()) {
      log::info("device: cpu, since no GPU is usable (", why_cpu, ")");
    } else {
      log::info("device: cuda:0, the first GPU");
    }
    return device;
  }
  int64_t index = -1;
  if (value == "cuda") {
    index = 0;
  } else if (value.starts_with("cuda:")) {
    index = parse_int(value.substr(5)).value_or(-1);
  }
  if (index < 0 || index > 1024) {
    fail("device '", value,
         "' is not valid (expected auto, cpu, cuda or cuda:N with N a GPU index)");
  }
#ifdef FASTVIDEO_HAVE_CUDA
  try {
    CudaContext::get(int(index));  // the GPU exists and is sm_80 or newer
  } catch (const Error& e) {
    fail("device '", value, "' cannot be used: ", e.what());
  }
  return Device::cuda(int(index));
#else
  fail("device '", value, "' is not available: this build has no CUDA backend (use cpu)");
#endif
}

void synchronize_device(Device device) {
  if (device.is_cpu()) return;
#ifdef FASTVIDEO_HAVE_CUDA
  CudaContext::get(device.index).synchronize();
#endif
}

int64_t device_peak_bytes(Device device) {
  if (device.is_cpu()) return 0;
#ifdef FASTVIDEO_HAVE_CUDA
  return cuda_detail::device_memory_peak(device.index);
#else
  return 0;
#endif
}

void reset_device_peak(Device device) {
  if (device.is_cpu()) return;
#ifdef FASTVIDEO_HAVE_CUDA
  cuda_detail::reset_device_memory_peak(device.index);
#endif
}

}  // namespace fastvideo
