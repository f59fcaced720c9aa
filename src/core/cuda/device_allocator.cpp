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

// Best fit from `cache`, but never a block more than twice `size` (keeps big blocks for big
// tensors). Returns {block, its size}, or {nullptr, 0}.
std::pair<void*, size_t> take_best_fit(std::multimap<size_t, void*>& cache, size_t size) {
  auto it = cache.lower_bound(size);
  if (it == cache.end() || it->first > 2 * size) return {nullptr, 0};
  const std::pair<void*, size_t> found{it->second, it->first};
  cache.erase(it);
  return found;
}

thread_local std::shared_ptr<DevicePool> routed_pool;

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
  if (routed_pool && routed_pool->device() == device_) return allocate_from(routed_pool, size);
  {
    std::lock_guard lock(mu_);
    if (auto [p, found] = take_best_fit(cache_, size); p) {
      stats_.in_use += int64_t(found);
      stats_.peak = std::max(stats_.peak, stats_.in_use);
      return std::shared_ptr<void>(p, [this, found](void* q) { release(q, found); });
    }
  }
  void* p = device_malloc(size);
  std::lock_guard lock(mu_);
  stats_.reserved += int64_t(size);
  stats_.in_use += int64_t(size);
  stats_.peak = std::max(stats_.peak, stats_.in_use);
  return std::shared_ptr<void>(p, [this, size](void* q) { release(q, size); });
}

std::shared_ptr<void> DeviceAllocator::allocate_from(const std::shared_ptr<DevicePool>& pool,
                                                     size_t size) {
  auto [p, found] = [&] {
    std::lock_guard lock(pool->mu_);
    return take_best_fit(pool->cache_, size);
  }();
  if (!p) {
    p = device_malloc(size);
    found = size;
    {
      std::lock_guard lock(pool->mu_);
      pool->owned_.emplace_back(p, size);
    }
    // A pool's blocks count as in use for as long as the pool lives: every replay writes them.
    std::lock_guard lock(mu_);
    stats_.reserved += int64_t(size);
    stats_.in_use += int64_t(size);
    stats_.peak = std::max(stats_.peak, stats_.in_use);
  }
  // The block returns to the pool, which it keeps alive.
  return std::shared_ptr<void>(p, [pool, found](void* q) {
    std::lock_guard lock(pool->mu_);
    pool->cache_.emplace(found, q);
  });
}

void* DeviceAllocator::device_malloc(size_t size) {
  use_cuda_device(device_);
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  cudaStreamIsCapturing(CudaContext::get(device_).stream(), &capturing);
  auto over_budget = [&] {
    std::lock_guard lock(mu_);
    return budget_ > 0 && stats_.reserved + int64_t(size) > budget_;
  };
  // Freeing cached blocks synchronises the stream, which a capture cannot.
  if (over_budget() && capturing == cudaStreamCaptureStatusNone) release_cached();
  if (over_budget()) {
    const DeviceMemoryStats now = stats();
    throw OutOfDeviceMemory(str_cat("allocating ", size >> 20, " MiB on GPU ", device_,
                                    " would pass max_device_memory (", budget() >> 20,
                                    " MiB): this run holds ", now.in_use >> 20, " MiB in use and ",
                                    (now.reserved - now.in_use) >> 20, " MiB cached"));
  }
  void* p = nullptr;
  cudaError_t status = cudaMalloc(&p, size);
  if (status == cudaErrorMemoryAllocation && capturing != cudaStreamCaptureStatusNone) {
    // Freeing cached blocks would synchronise the stream being captured.
    (void)cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw OutOfDeviceMemory(
        str_cat("CUDA out of memory in compile mode: capturing a CUDA graph needed ", size >> 20,
                " MiB more on GPU ", device_, " (", free_b >> 20,
                " MiB free); a graph keeps the activations of the work it holds, so run without "
                "compile mode or at a smaller size"));
  }
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    release_cached();
    status = cudaMalloc(&p, size);
  }
  if (status != cudaSuccess && status != cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    fail("cudaMalloc of ", size, " bytes on GPU ", device_,
         " failed: ", cudaGetErrorString(status));
  }
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    throw OutOfDeviceMemory(str_cat("CUDA out of memory: could not allocate ", size >> 20,
                                    " MiB on GPU ", device_, " (", free_b >> 20, " MiB free of ",
                                    total_b >> 20, " MiB; this run holds ", stats().in_use >> 20,
                                    " MiB)"));
  }
  return p;
}

void DeviceAllocator::forget_pool_blocks(int64_t bytes) {
  std::lock_guard lock(mu_);
  stats_.reserved -= bytes;
  stats_.in_use -= bytes;
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

void DeviceAllocator::set_budget(int64_t bytes) {
  FV_CHECK(bytes >= 0, "max_device_memory=", bytes, " bytes: expected a size >= 0 (0: no limit)");
  std::lock_guard lock(mu_);
  budget_ = bytes;
}

int64_t DeviceAllocator::budget() {
  std::lock_guard lock(mu_);
  return budget_;
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

std::shared_ptr<DevicePool> DevicePool::create(int device) {
  return std::shared_ptr<DevicePool>(new DevicePool(device));
}

DevicePool::~DevicePool() {
  if (owned_.empty()) return;
  int64_t bytes = 0;
  for (auto& [p, size] : owned_) {
    cudaFree(p);  // no throwing from a destructor; cudaFree waits for work still using it
    bytes += int64_t(size);
  }
  DeviceAllocator::get(device_).forget_pool_blocks(bytes);
}

int64_t DevicePool::reserved() const {
  std::lock_guard lock(mu_);
  int64_t bytes = 0;
  for (const auto& block : owned_) bytes += int64_t(block.second);
  return bytes;
}

RouteToPool::RouteToPool(std::shared_ptr<DevicePool> pool) : previous_(std::move(routed_pool)) {
  routed_pool = std::move(pool);
}

RouteToPool::~RouteToPool() { routed_pool = std::move(previous_); }

}  // namespace fastvideo
