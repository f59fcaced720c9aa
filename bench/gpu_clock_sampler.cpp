#ifdef FASTVIDEO_HAVE_CUDA
#include "gpu_clock_sampler.h"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>

namespace fastvideo::bench {

namespace {

// The few NVML entry points used, as nvml.h declares them (NVML's C ABI is stable; nvmlReturn_t
// is an int, NVML_SUCCESS 0, NVML_CLOCK_SM 1).
using NvmlDevice = void*;
struct Nvml {
  int (*init)() = nullptr;
  int (*by_pci_bus_id)(const char*, NvmlDevice*) = nullptr;
  int (*clock_info)(NvmlDevice, int, unsigned*) = nullptr;
  int (*power_usage)(NvmlDevice, unsigned*) = nullptr;  // milliwatts
  bool loaded = false;
};
constexpr int kNvmlClockSm = 1;

// NVML, opened and initialised once per process; `loaded` false where the driver has none.
const Nvml& nvml() {
  static const Nvml api = [] {
    Nvml n;
    void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return n;
    n.init = reinterpret_cast<int (*)()>(dlsym(lib, "nvmlInit_v2"));
    n.by_pci_bus_id = reinterpret_cast<int (*)(const char*, NvmlDevice*)>(
        dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2"));
    n.clock_info =
        reinterpret_cast<int (*)(NvmlDevice, int, unsigned*)>(dlsym(lib, "nvmlDeviceGetClockInfo"));
    n.power_usage =
        reinterpret_cast<int (*)(NvmlDevice, unsigned*)>(dlsym(lib, "nvmlDeviceGetPowerUsage"));
    n.loaded = n.init && n.by_pci_bus_id && n.clock_info && n.power_usage && n.init() == 0;
    return n;
  }();
  return api;
}

}  // namespace

GpuClockSampler::GpuClockSampler(int cuda_device) {
  const Nvml& api = nvml();
  char bus_id[32] = {};
  if (!api.loaded || cudaDeviceGetPCIBusId(bus_id, sizeof bus_id, cuda_device) != cudaSuccess)
    return;
  NvmlDevice device = nullptr;
  if (api.by_pci_bus_id(bus_id, &device) == 0) device_ = device;
}

GpuClockSampler::~GpuClockSampler() {
  if (thread_.joinable()) stop();
}

void GpuClockSampler::start() {
  if (thread_.joinable()) stop();
  summary_ = {};
  if (!available()) return;
  running_ = true;
  thread_ = std::thread([this] {
    const Nvml& api = nvml();
    double mhz_sum = 0, watts_sum = 0;
    int watt_samples = 0;
    ClockSummary s;
    while (running_) {
      unsigned mhz = 0, milliwatts = 0;
      if (api.clock_info(device_, kNvmlClockSm, &mhz) == 0) {
        mhz_sum += mhz;
        s.min_mhz = s.samples == 0 ? mhz : std::min(s.min_mhz, double(mhz));
        ++s.samples;
      }
      if (api.power_usage(device_, &milliwatts) == 0)
        watts_sum += milliwatts / 1000.0, ++watt_samples;
      std::this_thread::sleep_for(std::chrono::milliseconds(kPeriodMs));
    }
    if (s.samples > 0) s.mean_mhz = mhz_sum / s.samples;
    if (watt_samples > 0) s.mean_watts = watts_sum / watt_samples;
    summary_ = s;  // published by the join in stop()
  });
}

ClockSummary GpuClockSampler::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
  return summary_;
}

}  // namespace fastvideo::bench
#endif
