#include "attention/attention_device.h"

#include "core/compute_device.h"
#include "fastvideo/error.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_context.h"
#endif

namespace fastvideo {

std::string ComputeCapability::sm() const { return "sm_" + std::to_string(major * 10 + minor); }

std::string AttentionDevice::describe() const {
  if (!is_gpu()) return "the CPU (no GPU)";
  return str_cat(name, " (", device.name(), ", ", capability.sm(), ")");
}

AttentionDevice AttentionDevice::cpu() { return {Device::cpu(), "cpu", {}}; }

AttentionDevice AttentionDevice::gpu(int index, std::string name, ComputeCapability capability) {
  return {Device::cuda(index), std::move(name), capability};
}

AttentionDevice attention_device_for(Device device) {
  if (device.is_cpu()) return AttentionDevice::cpu();
#ifdef FASTVIDEO_HAVE_CUDA
  const CudaDeviceInfo& info = CudaContext::get(device.index).info();
  return AttentionDevice::gpu(device.index, info.name, {info.major, info.minor});
#else
  fail("device ", device.name(), " is not available: this build has no CUDA backend");
#endif
}

AttentionDevice this_machine_attention_device(std::string* why_cpu) {
  const Device device = usable_gpu_or_cpu(why_cpu);
  return device.is_cpu() ? AttentionDevice::cpu() : attention_device_for(device);
}

}  // namespace fastvideo
