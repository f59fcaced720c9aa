// Caching device allocator (DESIGN §2): no cudaMalloc/cudaFree inside the step loop. Freed blocks
// go back to a size-sorted cache and are reused in stream order (every op runs on the device's one
// compute stream, so a block freed by one op is safe for the next). Peak use is tracked per stage.
//
// A CUDA graph (cuda_graph.h) replays into the blocks its capture was given, long after capture
// freed them, so those must never be handed to anyone else: while a DevicePool is routed on a
// thread (RouteToPool), that thread's allocations on the pool's device come from the pool and go
// back to it, and the pool gives its memory back only when the graph and its last block are gone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace fastvideo {

class DevicePool;

struct DeviceMemoryStats {
  int64_t in_use = 0;    // bytes handed out now
  int64_t peak = 0;      // highest in_use since the last reset_peak()
  int64_t reserved = 0;  // bytes held from cudaMalloc (in use + cached)
};

class DeviceAllocator {
 public:
  static DeviceAllocator& get(int device);

  // A block of at least `bytes`; freeing the returned pointer's owner returns it to the cache.
  std::shared_ptr<void> allocate(size_t bytes);
  DeviceMemoryStats stats();
  void reset_peak();
  // Returns cached blocks to the driver (also tried once before reporting out of memory).
  void release_cached();
  // max_device_memory: the bytes this allocator may hold from the driver (in use + cached), 0 for
  // no limit. Going past it is an OutOfDeviceMemory error, as the driver's own limit is.
  void set_budget(int64_t bytes);
  int64_t budget();

 private:
  friend class DevicePool;
  explicit DeviceAllocator(int device) : device_(device) {}
  void release(void* p, size_t size);
  // cudaMalloc within the budget; both retried once after release_cached().
  void* device_malloc(size_t size);
  void forget_pool_blocks(int64_t bytes);  // a DevicePool gave its blocks back to the driver
  std::shared_ptr<void> allocate_from(const std::shared_ptr<DevicePool>& pool, size_t size);

  int device_;
  std::mutex mu_;
  std::multimap<size_t, void*> cache_;  // size -> free block
  DeviceMemoryStats stats_;
  int64_t budget_ = 0;
};

// Memory only one CUDA graph's capture draws from (see the top of this file).
class DevicePool {
 public:
  static std::shared_ptr<DevicePool> create(int device);
  ~DevicePool();  // cudaFree's the blocks: the graph and every tensor in them are gone by now
  int device() const { return device_; }
  int64_t reserved() const;  // bytes held from cudaMalloc

 private:
  friend class DeviceAllocator;
  explicit DevicePool(int device) : device_(device) {}
  int device_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> cache_;           // size -> free block
  std::vector<std::pair<void*, size_t>> owned_;  // every block, for the destructor
};

// While alive, this thread's allocations on pool->device() come from `pool`. Nests.
class RouteToPool {
 public:
  explicit RouteToPool(std::shared_ptr<DevicePool> pool);
  ~RouteToPool();
  RouteToPool(const RouteToPool&) = delete;
  RouteToPool& operator=(const RouteToPool&) = delete;

 private:
  std::shared_ptr<DevicePool> previous_;
};

}  // namespace fastvideo
