// One stretch of GPU work recorded once and replayed whole (compile mode, issue 11): the work is
// captured from the device's compute stream into a CUDA graph, so a replay costs one launch
// instead of one per kernel, and no host code runs between the kernels.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <memory>
#include <string>

#include "core/cuda/device_allocator.h"

namespace fastvideo {

class CudaGraph {
 public:
  // Records `work` on `device`'s compute stream without running it (logging what was captured,
  // its kernels, time and memory); its allocations come from a
  // pool of the graph's own (device_allocator.h), so tensors `work` keeps (its outputs) stay where
  // replays write them. The work must be replayable as recorded: no host synchronisation, no
  // host-to-device copies of values that change, every lazily built plan or table built by an
  // earlier eager run. Anything else ends the capture with an error naming `what` and the call.
  CudaGraph(int device, const std::string& what, const std::function<void()>& work);
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Launches the recorded work on the compute stream (asynchronous, like the kernels it holds).
  void replay() const;
  double capture_seconds() const { return capture_seconds_; }  // capturing and instantiating
  int64_t pool_bytes() const { return pool_->reserved(); }

 private:
  int device_;
  std::shared_ptr<DevicePool> pool_;
  cudaGraphExec_t exec_ = nullptr;
  size_t kernel_nodes_ = 0;
  double capture_seconds_ = 0;
};

}  // namespace fastvideo
