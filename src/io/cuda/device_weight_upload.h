// Checkpoint tensors into GPU memory (DESIGN §2): each tensor is converted to its device dtype on
// the host in bounded chunks, straight from the mapping into one of two pinned staging buffers,
// and copied from there while the next chunk converts. No host copy of a whole tensor (let alone
// of the model) is ever made, and host memory stays at the two staging buffers.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "core/tensor.h"

namespace fastvideo {

// Page-locked host memory with an event marking when the last copy out of it finished.
class PinnedStagingBuffer {
 public:
  PinnedStagingBuffer(size_t bytes, int device);
  ~PinnedStagingBuffer();
  PinnedStagingBuffer(const PinnedStagingBuffer&) = delete;
  PinnedStagingBuffer& operator=(const PinnedStagingBuffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  // Blocks until the copy recorded by mark_in_flight() has finished (at once if none was).
  void wait_until_free() const;
  void mark_in_flight(cudaStream_t stream);

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  cudaEvent_t done_ = nullptr;
};

class DeviceWeightUploader {
 public:
  // Two staging buffers of `chunk_bytes` each, reused for every tensor uploaded.
  explicit DeviceWeightUploader(Device device, size_t chunk_bytes = size_t(64) << 20);
  ~DeviceWeightUploader();  // waits for the copies in flight before the buffers are freed
  DeviceWeightUploader(const DeviceWeightUploader&) = delete;
  DeviceWeightUploader& operator=(const DeviceWeightUploader&) = delete;

  // A new device tensor of `dtype` (F32, BF16 or F16) holding `host`, a contiguous float CPU
  // tensor such as a view into a safetensors mapping. The copy is queued on the device's compute
  // stream, so kernels that read the result run after it; `host` may be released on return. A
  // value that is NaN or Inf is an error naming `what` (the file and tensor).
  Tensor upload(const Tensor& host, DType dtype, const std::string& what);
  // Blocks until every queued copy has finished.
  void finish();

 private:
  Device device_;
  PinnedStagingBuffer buffers_[2];
  int next_ = 0;
};

}  // namespace fastvideo
