#include "core/device_step_flags.h"

#include <algorithm>
#include <vector>

#include "fastvideo/error.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#endif

namespace fastvideo {

#ifdef FASTVIDEO_HAVE_CUDA
struct DeviceStepFlags::Readback {
  int device = 0;
  int32_t* words = nullptr;       // page-locked, so the copies back are asynchronous
  std::vector<cudaEvent_t> done;  // per step, made by its first mark()

  Readback(int device_index, int steps) : device(device_index), done(size_t(steps), nullptr) {
    use_cuda_device(device);
    FV_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&words),
                                sizeof(int32_t) * size_t(std::max(steps, 1)),
                                cudaHostAllocDefault));
  }
  ~Readback() {
    // A step's event may still be pending when a run stops early: the queued work finishes on its
    // own, and destroying an event with work still to reach it is allowed.
    for (cudaEvent_t e : done) {
      if (e) cudaEventDestroy(e);
    }
    if (words) {
      cudaStreamSynchronize(CudaContext::get(device).stream());  // no copy may land in freed memory
      cudaFreeHost(words);
    }
  }
};
#else
struct DeviceStepFlags::Readback {};
#endif

DeviceStepFlags::DeviceStepFlags(Device device, int steps)
    : flags_(Tensor::zeros({std::max(steps, 0)}, DType::I32, device)) {
  FV_CHECK(steps >= 0, "DeviceStepFlags: ", steps, " steps");
#ifdef FASTVIDEO_HAVE_CUDA
  if (!device.is_cpu()) readback_ = std::make_unique<Readback>(device.index, steps);
#endif
}

DeviceStepFlags::~DeviceStepFlags() = default;

void DeviceStepFlags::check_step(int step, const char* what) const {
  FV_CHECK(step >= 0 && step < flags_.size(0), "DeviceStepFlags::", what, ": step ", step,
           " outside 0..", flags_.size(0) - 1);
}

void DeviceStepFlags::mark(int step) {
  check_step(step, "mark");
#ifdef FASTVIDEO_HAVE_CUDA
  if (!readback_) return;
  Readback& r = *readback_;
  cudaStream_t stream = use_cuda_device(r.device).stream();
  FV_CUDA_CHECK(cudaMemcpyAsync(r.words + step, flags_.data<int32_t>() + step, sizeof(int32_t),
                                cudaMemcpyDeviceToHost, stream));
  cudaEvent_t& e = r.done[size_t(step)];
  if (!e) FV_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  FV_CUDA_CHECK(cudaEventRecord(e, stream));
#endif
}

int32_t DeviceStepFlags::value(int step) {
  check_step(step, "value");
  if (!readback_) return flags_.data<int32_t>()[step];
#ifdef FASTVIDEO_HAVE_CUDA
  Readback& r = *readback_;
  FV_CHECK(r.done[size_t(step)], "DeviceStepFlags::value(", step, ") before mark(", step, ")");
  FV_CUDA_CHECK(cudaEventSynchronize(r.done[size_t(step)]));
  return r.words[step];
#else
  return 0;
#endif
}

}  // namespace fastvideo
