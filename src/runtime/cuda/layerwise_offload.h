// Layerwise offload (fastvideo.md §6.2): the weights of a stack of same-shaped layers (the DiT's
// blocks, UMT5's layers) live in host memory and are copied into a few device slots just ahead of
// use, on a copy stream of their own, so at most `slots` layers' weights are on the GPU at once
// and the copies overlap the compute of the layers before.
//
// Layer i always goes into slot i % slots. release(i) records on the compute stream when the work
// reading layer i is done and at once queues the copy of layer i + slots into that slot (waiting
// for that record on the copy stream); acquire(i) makes the compute stream wait for layer i's copy.
// The order wraps (when the slots divide the layers): the last layers prefetch the first ones for
// the next pass, as FastVideo does.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/tensor.h"

namespace fastvideo {

class LayerwiseOffload {
 public:
  // `layout`: one layer's tensors (their shapes and dtypes; every layer has the same), for
  // `layers` layers, streamed to `device` through `slots` device slots. pin: page-locked host
  // memory (copies at full bandwidth, overlapping compute); otherwise pageable memory, which the
  // driver stages through its own pinned buffers: release() then waits on the host for the
  // slot's previous layer, so copies no longer overlap compute.
  LayerwiseOffload(const std::vector<Tensor>& layout, int layers, Device device, int slots,
                   bool pin);
  ~LayerwiseOffload();  // waits for the copies in flight
  LayerwiseOffload(const LayerwiseOffload&) = delete;
  LayerwiseOffload& operator=(const LayerwiseOffload&) = delete;

  // Copies layer i's tensors (contiguous host tensors of the layout's shapes and dtypes) into its
  // host memory; the caller may free them afterwards.
  void set_layer(int i, const std::vector<Tensor>& tensors);

  // Layer i's tensors on the device, in layout order. Work queued on the compute stream from now
  // on sees them loaded; they stay valid for it until release(i).
  const std::vector<Tensor>& acquire(int i);
  // The work reading layer i is queued: its slot may take the next layer it serves.
  void release(int i);

  int layers() const { return int(host_.size()); }
  int slots() const { return int(slots_.size()); }

 private:
  struct Slot {
    std::shared_ptr<void> memory;
    std::vector<Tensor> tensors;   // views into `memory`
    int layer = -1;                // the layer loaded or being loaded, -1 none
    cudaEvent_t loaded = nullptr;  // on the copy stream: the copy of `layer` finished
    cudaEvent_t done = nullptr;    // on the compute stream: the work reading the slot finished
  };
  void load(int layer);  // queues layer's copy into its slot unless it is there already

  Device device_;
  bool pinned_;
  struct TensorLayout {
    Shape shape;
    DType dtype;
  };
  std::vector<TensorLayout> layout_;
  std::vector<size_t> offsets_;  // of each tensor in a layer's bytes
  int64_t layer_bytes_ = 0;
  std::vector<std::shared_ptr<void>> host_;  // one buffer per layer
  std::vector<Slot> slots_;
  cudaStream_t copy_stream_ = nullptr;
  std::mutex mu_;
};

}  // namespace fastvideo
