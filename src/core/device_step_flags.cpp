#include "core/device_step_flags.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "fastvideo/error.h"

#ifdef FASTVIDEO_HAVE_CUDA
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#endif

namespace fastvideo {

#ifdef FASTVIDEO_HAVE_CUDA
namespace {

// Page-locked words for the readbacks, handed to a loop and taken back when it ends, never freed:
// a loop that stops early (a stop request, a NaN) leaves its last step queued, with a copy still
// to land in its words. Freeing them would mean waiting for that step first; kept, the copy lands
// harmlessly, and a later loop's copies into the same words come after it on the device's one
// stream. A few KiB per device.
class PinnedWords {
 public:
  struct Block {
    int32_t* words = nullptr;
    size_t count = 0;
  };
  // A block of at least `count` words.
  static Block take(int device, size_t count) {
    std::lock_guard lock(mu_);
    auto& free = free_[device];
    const auto fits =
        std::find_if(free.begin(), free.end(), [&](const Block& b) { return b.count >= count; });
    if (fits != free.end()) {
      const Block block = *fits;
      free.erase(fits);
      return block;
    }
    use_cuda_device(device);
    Block block{nullptr, count};
    FV_CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&block.words), sizeof(int32_t) * count,
                                cudaHostAllocDefault));
    return block;
  }
  static void give_back(int device, const Block& block) {
    std::lock_guard lock(mu_);
    free_[device].push_back(block);
  }

 private:
  static inline std::mutex mu_;
  static inline std::map<int, std::vector<Block>> free_;
};

}  // namespace

struct DeviceStepFlags::Readback {
  int device = 0;
  PinnedWords::Block pinned;      // page-locked, so the copies back are asynchronous
  std::vector<cudaEvent_t> done;  // per step, made by its first mark()
  std::vector<bool> marked;       // per step, once its mark() has queued the copy and the record

  Readback(int device_index, int steps)
      : device(device_index),
        pinned(PinnedWords::take(device_index, size_t(std::max(steps, 1)))),
        done(size_t(steps), nullptr),
        marked(size_t(steps), false) {}
  ~Readback() {
    // A step's event may still be pending when a run stops early: the queued work finishes on its
    // own, and destroying an event with work still to reach it is allowed. Nothing waits for it.
    for (cudaEvent_t e : done) {
      if (e) cudaEventDestroy(e);
    }
    PinnedWords::give_back(device, pinned);
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
  FV_CUDA_CHECK(cudaMemcpyAsync(r.pinned.words + step, flags_.data<int32_t>() + step,
                                sizeof(int32_t), cudaMemcpyDeviceToHost, stream));
  cudaEvent_t& e = r.done[size_t(step)];
  if (!e) FV_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  FV_CUDA_CHECK(cudaEventRecord(e, stream));
  r.marked[size_t(step)] = true;
#endif
}

int32_t DeviceStepFlags::value(int step) {
  check_step(step, "value");
  if (!readback_) return flags_.data<int32_t>()[step];
#ifdef FASTVIDEO_HAVE_CUDA
  Readback& r = *readback_;
  FV_CHECK(r.marked[size_t(step)], "DeviceStepFlags::value(", step, ") before mark(", step, ")");
  FV_CUDA_CHECK(cudaEventSynchronize(r.done[size_t(step)]));
  return r.pinned.words[step];
#else
  return 0;
#endif
}

}  // namespace fastvideo
