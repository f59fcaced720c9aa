// Layerwise offload (fastvideo.md §6.2): the weights of a stack of same-shaped layers (the DiT's
// blocks) stay off the GPU and are copied into a few device slots just ahead of use, on a copy
// stream of their own, so at most `slots` layers' weights are on the GPU at once and the copies
// overlap the compute of the layers before.
//
// Where the layers wait (FastVideo's pin_cpu_memory):
// - pinned: set_layer converts each layer once into page-locked host memory of its own, which the
//   copies read at full bandwidth. The host holds the layers once.
// - streamed: set_layer keeps the layer's tensors as given (views into the checkpoint's mapping),
//   and every copy first converts them into the slot's pinned staging buffer, then drops their
//   pages from resident memory. The host holds no copy of the layers (only the page cache, which
//   the kernel may reclaim); the price is a conversion per use, done on the host while the GPU
//   computes the layers queued before.
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
#include "runtime/layer_layout.h"

namespace fastvideo {

class LayerwiseOffload {
 public:
  // `layout`: one layer's tensors (every layer has the same), for `layers` layers, streamed to
  // `device` through `slots` device slots; `pin`: pinned host copies, otherwise streamed.
  LayerwiseOffload(LayerLayout layout, int layers, Device device, int slots, bool pin);
  ~LayerwiseOffload();  // waits for the copies in flight
  LayerwiseOffload(const LayerwiseOffload&) = delete;
  LayerwiseOffload& operator=(const LayerwiseOffload&) = delete;

  // Layer i's tensors: contiguous CPU tensors of the layout's shapes, in any float dtype (they
  // are converted to the layout's). Pinned, they are copied now and may be freed afterwards;
  // streamed, they are kept and read at every copy.
  void set_layer(int i, std::vector<Tensor> tensors);

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
    std::shared_ptr<void> staging;  // streamed: pinned host bytes the copy reads
    std::vector<Tensor> tensors;    // views into `memory`
    int layer = -1;                 // the layer loaded or being loaded, -1 none
    cudaEvent_t loaded = nullptr;   // on the copy stream: the copy of `layer` finished
    cudaEvent_t done = nullptr;     // on the compute stream: the work reading the slot finished
  };
  void load(int layer);  // queues layer's copy into its slot unless it is there already

  Device device_;
  bool pinned_;
  LayerLayout layout_;
  std::vector<std::shared_ptr<void>> host_;   // pinned: one buffer per layer, null until set
  std::vector<std::vector<Tensor>> sources_;  // streamed: the tensors as set, empty until then
  std::vector<Slot> slots_;
  cudaStream_t copy_stream_ = nullptr;
  std::mutex mu_;
};

}  // namespace fastvideo
