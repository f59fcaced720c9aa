#include "guard_page_heap.h"

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>

namespace fastvideo::testing {
namespace {

thread_local int guard_scopes = 0;

// The guarded blocks still alive, so that operator delete knows to unmap them.
struct Mapping {
  void* block = nullptr;
  void* base = nullptr;
  size_t bytes = 0;
};
std::mutex mappings_mutex;
std::array<Mapping, 256> mappings;
std::atomic<int> live_mappings{0};

void* guarded_new(size_t n) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  const size_t data_pages = n == 0 ? 1 : (n + page - 1) / page;
  const size_t bytes = (data_pages + 1) * page;
  void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  char* guard = static_cast<char*>(base) + data_pages * page;
  if (mprotect(guard, page, PROT_NONE) != 0) {
    munmap(base, bytes);
    throw std::bad_alloc();
  }
  void* block = reinterpret_cast<void*>(uintptr_t(guard - n) & ~uintptr_t(15));
  std::lock_guard lock(mappings_mutex);
  for (Mapping& m : mappings) {
    if (m.block != nullptr) continue;
    m = {block, base, bytes};
    ++live_mappings;
    return block;
  }
  munmap(base, bytes);
  throw std::bad_alloc();
}

// Unmaps `p` if it is a guarded block; false if it came from malloc.
bool release_guarded(void* p) {
  if (live_mappings == 0) return false;
  std::lock_guard lock(mappings_mutex);
  for (Mapping& m : mappings) {
    if (m.block != p) continue;
    munmap(m.base, m.bytes);
    m = {};
    --live_mappings;
    return true;
  }
  return false;
}

}  // namespace

GuardPageHeap::GuardPageHeap() { ++guard_scopes; }
GuardPageHeap::~GuardPageHeap() { --guard_scopes; }

}  // namespace fastvideo::testing

// The replaceable global allocation functions ([new.delete.single]); the array and nothrow forms
// of libstdc++ call these.
void* operator new(std::size_t n) {
  if (fastvideo::testing::guard_scopes > 0) return fastvideo::testing::guarded_new(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}

void operator delete(void* p) noexcept {
  if (p != nullptr && !fastvideo::testing::release_guarded(p)) std::free(p);
}

void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
