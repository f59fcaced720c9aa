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

GpuClockSampler::GpuClockSampler(int cuda_device, int period_ms) : period_ms_(period_ms) {
  char bus_id[32] = {};  // "domain:bus:device.function", which NVML takes as it is
  if (period_ms <= 0 || !nvml().loaded ||
      cudaDeviceGetPCIBusId(bus_id, sizeof bus_id, cuda_device) != cudaSuccess)
    return;
  NvmlDevice device = nullptr;
  if (nvml().by_pci_bus_id(bus_id, &device) == 0) device_ = device;
}

GpuClockSampler::~GpuClockSampler() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

void GpuClockSampler::read_clock(ClockSummary& s, double& mhz_sum) const {
  unsigned mhz = 0;
  if (nvml().clock_info(device_, kNvmlClockSm, &mhz) != 0) return;
  s.min_mhz = s.samples == 0 ? mhz : std::min(s.min_mhz, double(mhz));
  mhz_sum += mhz;
  ++s.samples;
}

void GpuClockSampler::start() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
  summary_ = {};
  mhz_sum_ = 0;
  if (!available()) return;
  read_clock(summary_, mhz_sum_);  // here, before the row's first call: so even a short row has one
  running_ = true;
  thread_ = std::thread([this] {
    while (running_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(period_ms_));
      if (running_) read_clock(summary_, mhz_sum_);
    }
  });
}

ClockSummary GpuClockSampler::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();  // after which summary_ is this thread's again
  if (available()) {
    read_clock(summary_, mhz_sum_);
    unsigned milliwatts = 0;
    if (nvml().power_usage(device_, &milliwatts) == 0) summary_.watts = milliwatts / 1000.0;
  }
  if (summary_.samples > 0) summary_.mean_mhz = mhz_sum_ / summary_.samples;
  ClockSummary s = summary_;
  summary_ = {};  // a second stop() reports nothing rather than this row again
  mhz_sum_ = 0;
  return s;
}

}  // namespace fastvideo::bench
#endif
