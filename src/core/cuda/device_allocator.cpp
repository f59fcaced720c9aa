#include "core/cuda/device_allocator.h"

#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"

namespace fastvideo {

namespace {

// Small blocks round to 512 B; large ones to 2 MiB so similar activations share blocks.
size_t round_size(size_t bytes) {
  const size_t small = 512, large = size_t(2) << 20;
  if (bytes < (size_t(1) << 20)) return (bytes + small - 1) / small * small;
  return (bytes + large - 1) / large * large;
}

}  // namespace

DeviceAllocator& DeviceAllocator::get(int device) {
  // Never destroyed: tensors in static objects may be freed during exit.
  static std::mutex mu;
  static auto* allocators = new std::map<int, DeviceAllocator*>();
  std::lock_guard lock(mu);
  auto& slot = (*allocators)[device];
  if (!slot) slot = new DeviceAllocator(device);
  return *slot;
}

std::shared_ptr<void> DeviceAllocator::allocate(size_t bytes) {
  const size_t size = round_size(std::max<size_t>(bytes, 1));
  void* p = nullptr;
  {
    std::lock_guard lock(mu_);
    // Best fit, but never a block more than twice the request (keeps big blocks for big tensors).
    auto it = cache_.lower_bound(size);
    if (it != cache_.end() && it->first <= 2 * size) {
      p = it->second;
      const size_t found = it->first;
      cache_.erase(it);
      stats_.in_use += int64_t(found);
      stats_.peak = std::max(stats_.peak, stats_.in_use);
      return std::shared_ptr<void>(p, [this, found](void* q) { release(q, found); });
    }
  }
  use_cuda_device(device_);
  cudaError_t status = cudaMalloc(&p, size);
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    release_cached();
    status = cudaMalloc(&p, size);
  }
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    fail("CUDA out of memory: could not allocate ", size >> 20, " MiB on GPU ", device_, " (",
         free_b >> 20, " MiB free of ", total_b >> 20, " MiB; this run holds ",
         stats().in_use >> 20, " MiB); reduce the resolution or frame count");
  }
  std::lock_guard lock(mu_);
  stats_.reserved += int64_t(size);
  stats_.in_use += int64_t(size);
  stats_.peak = std::max(stats_.peak, stats_.in_use);
  return std::shared_ptr<void>(p, [this, size](void* q) { release(q, size); });
}

void DeviceAllocator::release(void* p, size_t size) {
  std::lock_guard lock(mu_);
  stats_.in_use -= int64_t(size);
  cache_.emplace(size, p);
}

DeviceMemoryStats DeviceAllocator::stats() {
  std::lock_guard lock(mu_);
  return stats_;
}

void DeviceAllocator::reset_peak() {
  std::lock_guard lock(mu_);
  stats_.peak = stats_.in_use;
}

void DeviceAllocator::release_cached() {
  std::vector<void*> blocks;
  {
    std::lock_guard lock(mu_);
    for (auto& [size, p] : cache_) {
      blocks.push_back(p);
      stats_.reserved -= int64_t(size);
    }
    cache_.clear();
  }
  if (blocks.empty()) return;
  // Freed blocks may still be read by queued work: finish it first.
  CudaContext::get(device_).synchronize();
  for (void* p : blocks) FV_CUDA_CHECK(cudaFree(p));
}

}  // namespace fastvideo
