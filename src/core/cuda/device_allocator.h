// Caching device allocator (DESIGN §2): no cudaMalloc/cudaFree inside the step loop. Freed blocks
// go back to a size-sorted cache and are reused in stream order (every op runs on the device's one
// compute stream, so a block freed by one op is safe for the next). Peak use is tracked per stage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace fastvideo {

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

 private:
  explicit DeviceAllocator(int device) : device_(device) {}
  void release(void* p, size_t size);

  int device_;
  std::mutex mu_;
  std::multimap<size_t, void*> cache_;  // size -> free block
  DeviceMemoryStats stats_;
};

}  // namespace fastvideo
