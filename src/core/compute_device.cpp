#include "core/compute_device.h"

#include <algorithm>

#include "core/parse_number.h"
#include "fastvideo/error.h"
#include "fastvideo/log.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/device_allocator.h"
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

int cuda_device_count() {
#ifdef FASTVIDEO_HAVE_CUDA
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess ? count : 0;
#else
  return 0;
#endif
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
    index = parse_whole<int64_t>(value.substr(5)).value_or(-1);
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

int64_t DeviceMemory::available() const {
  const int64_t on_the_gpu = free + cached;
  return budget > 0 ? std::max<int64_t>(0, std::min(budget - in_use, on_the_gpu)) : on_the_gpu;
}

DeviceMemory device_memory(Device device) {
  DeviceMemory m;
  if (device.is_cpu()) return m;
#ifdef FASTVIDEO_HAVE_CUDA
  use_cuda_device(device.index);
  size_t free_b = 0, total_b = 0;
  FV_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  DeviceAllocator& allocator = DeviceAllocator::get(device.index);
  const DeviceMemoryStats stats = allocator.stats();
  m.free = int64_t(free_b);
  m.in_use = stats.in_use;
  m.cached = stats.reserved - stats.in_use;
  m.budget = allocator.budget();
#endif
  return m;
}

DeviceMemoryBudget::DeviceMemoryBudget(Device device, int64_t bytes) : device_(device) {
  FV_CHECK(bytes >= 0, "max_device_memory=", bytes, " bytes is negative; give a size (0: no limit)");
  if (device.is_cpu()) {
    FV_CHECK(bytes == 0, "max_device_memory=", bytes,
             " bytes: the run is on the CPU, which has no device memory to limit; use it with "
             "device=cuda (--device cuda)");
    return;
  }
#ifdef FASTVIDEO_HAVE_CUDA
  DeviceAllocator& allocator = DeviceAllocator::get(device.index);
  previous_ = allocator.budget();
  allocator.set_budget(bytes);
#endif
}

DeviceMemoryBudget::~DeviceMemoryBudget() {
  if (device_.is_cpu()) return;
#ifdef FASTVIDEO_HAVE_CUDA
  DeviceAllocator::get(device_.index).set_budget(previous_);
#endif
}

}  // namespace fastvideo
