// Heap blocks that end at an inaccessible page, for tests that code stays inside the buffers it is
// given: a read or write one byte past the end faults at once instead of touching whatever the
// heap holds there (what valgrind calls an invalid read or write, without valgrind). Linking
// guard_page_heap.cpp replaces the program's global operator new and delete; outside a
// GuardPageHeap scope they are malloc and free.
#pragma once

namespace fastvideo::testing {

// While one lives, every operator new on this thread maps its own pages for the block, followed
// by a PROT_NONE page. The block ends exactly at that page when its size is a multiple of 16 (the
// alignment new guarantees); otherwise up to 15 bytes lie between.
class GuardPageHeap {
 public:
  GuardPageHeap();
  ~GuardPageHeap();
  GuardPageHeap(const GuardPageHeap&) = delete;
  GuardPageHeap& operator=(const GuardPageHeap&) = delete;
};

}  // namespace fastvideo::testing
