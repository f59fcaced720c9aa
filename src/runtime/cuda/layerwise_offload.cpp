#include "runtime/cuda/layerwise_offload.h"

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/device_allocator.h"

namespace fastvideo {

namespace {

std::shared_ptr<void> pinned_memory(size_t bytes) {
  void* p = nullptr;
  const cudaError_t status = cudaHostAlloc(&p, bytes, cudaHostAllocDefault);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    fail("layerwise offload: could not pin ", bytes >> 20, " MiB of host memory (",
         cudaGetErrorString(status),
         "); set pin_cpu_memory to false to stream the weights from the checkpoint instead");
  }
  return std::shared_ptr<void>(p, [](void* q) { cudaFreeHost(q); });
}

}  // namespace

LayerwiseOffload::LayerwiseOffload(LayerLayout layout, int layers, Device device, int slots,
                                   bool pin)
    : device_(device), pinned_(pin), layout_(std::move(layout)) {
  FV_CHECK(!device.is_cpu(), "layerwise offload streams weights to a GPU, not to ", device.name());
  FV_CHECK(layers >= 1 && slots >= 1, "layerwise offload: ", layers, " layers through ", slots,
           " slots; expected at least one of each");
  const size_t bytes = layout_.bytes();
  slots = std::min(slots, layers);
  use_cuda_device(device.index);
  host_.resize(size_t(layers));
  sources_.resize(size_t(layers));
  slots_.resize(size_t(slots));
  for (Slot& slot : slots_) {
    slot.memory = DeviceAllocator::get(device.index).allocate(bytes);
    if (!pinned_) slot.staging = pinned_memory(bytes);
    slot.tensors = layout_.views(slot.memory.get(), slot.memory, device);
    FV_CUDA_CHECK(cudaEventCreateWithFlags(&slot.loaded, cudaEventDisableTiming));
    FV_CUDA_CHECK(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming));
    // The allocator hands out blocks in compute-stream order: work queued for the block's last
    // owner may still run, so the first copy into it waits for the compute stream too.
    FV_CUDA_CHECK(cudaEventRecord(slot.done, use_cuda_device(device.index).stream()));
  }
  FV_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
}

LayerwiseOffload::~LayerwiseOffload() {
  // No throwing from a destructor: errors here were reported by the calls that queued the work.
  if (copy_stream_) {
    cudaStreamSynchronize(copy_stream_);
    cudaStreamDestroy(copy_stream_);
  }
  for (Slot& slot : slots_) {
    if (slot.loaded) cudaEventDestroy(slot.loaded);
    if (slot.done) cudaEventDestroy(slot.done);
  }
}

void LayerwiseOffload::set_layer(int i, std::vector<Tensor> tensors) {
  FV_CHECK(i >= 0 && i < layers(), "layerwise offload: layer ", i, " of ", layers());
  layout_.check(tensors, str_cat("layerwise offload: layer ", i));
  std::lock_guard lock(mu_);
  // A copy out of this layer's bytes may be in flight, and a slot holding it would go stale.
  FV_CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
  for (Slot& slot : slots_) {
    if (slot.layer == i) slot.layer = -1;  // the next acquire copies again
  }
  if (!pinned_) {
    // Streamed from here at every step: a NaN is found now, not at the first step.
    layout_.check_finite(tensors, str_cat("layerwise offload: layer ", i));
    sources_[size_t(i)] = std::move(tensors);
    return;
  }
  if (!host_[size_t(i)]) host_[size_t(i)] = pinned_memory(layout_.bytes());
  layout_.pack(tensors, static_cast<char*>(host_[size_t(i)].get()),
               str_cat("layerwise offload: layer ", i));
}

void LayerwiseOffload::load(int layer) {
  Slot& slot = slots_[size_t(layer % slots())];
  if (slot.layer == layer) return;
  const void* from = host_[size_t(layer)].get();
  if (!pinned_) {
    FV_CHECK(!sources_[size_t(layer)].empty(), "layerwise offload: layer ", layer,
             " was never set");
    // The staging buffer's last copy must be over before it is written again.
    FV_CUDA_CHECK(cudaEventSynchronize(slot.loaded));
    layout_.pack(sources_[size_t(layer)], static_cast<char*>(slot.staging.get()),
                 str_cat("layerwise offload: layer ", layer));
    from = slot.staging.get();
  }
  FV_CHECK(from, "layerwise offload: layer ", layer, " was never set");
  // The slot's previous layer may still be read by queued compute.
  FV_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, slot.done, 0));
  FV_CUDA_CHECK(cudaMemcpyAsync(slot.memory.get(), from, layout_.bytes(), cudaMemcpyHostToDevice,
                                copy_stream_));
  FV_CUDA_CHECK(cudaEventRecord(slot.loaded, copy_stream_));
  slot.layer = layer;
}

const std::vector<Tensor>& LayerwiseOffload::acquire(int i) {
  FV_CHECK(i >= 0 && i < layers(), "layerwise offload: layer ", i, " of ", layers());
  std::lock_guard lock(mu_);
  CudaContext& ctx = use_cuda_device(device_.index);
  load(i);
  Slot& slot = slots_[size_t(i % slots())];
  FV_CUDA_CHECK(cudaStreamWaitEvent(ctx.stream(), slot.loaded, 0));
  return slot.tensors;
}

void LayerwiseOffload::release(int i) {
  FV_CHECK(i >= 0 && i < layers(), "layerwise offload: layer ", i, " of ", layers());
  std::lock_guard lock(mu_);
  CudaContext& ctx = use_cuda_device(device_.index);
  Slot& slot = slots_[size_t(i % slots())];
  FV_CUDA_CHECK(cudaEventRecord(slot.done, ctx.stream()));
  // Wrapping to the next pass keeps layer -> slot fixed only when the slots divide the layers;
  // otherwise the next pass's first layers are copied when acquired.
  const int next = i + slots();
  if (next < layers() || (layers() > slots() && layers() % slots() == 0)) load(next % layers());
}

}  // namespace fastvideo
