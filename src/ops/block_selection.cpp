#include "ops/block_selection.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

namespace fastvideo {

namespace {

// IEEE bits mapped so that unsigned order is numeric order (negatives flipped entirely).
uint32_t order_key(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

}  // namespace

void select_top_blocks(const float* scores, int64_t count, int64_t topk, int32_t* selected) {
  std::vector<uint32_t> keys(static_cast<size_t>(count));
  for (int64_t j = 0; j < count; ++j) keys[size_t(j)] = order_key(scores[j]);
  std::vector<uint32_t> sorted = keys;
  std::nth_element(sorted.begin(), sorted.begin() + (topk - 1), sorted.end(),
                   std::greater<uint32_t>());
  const uint32_t kth = sorted[size_t(topk - 1)];
  int64_t above = 0;
  for (uint32_t key : keys) above += key > kth;
  int64_t ties_left = topk - above, n = 0;
  for (int64_t j = 0; j < count; ++j) {
    const uint32_t key = keys[size_t(j)];
    if (key > kth || (key == kth && ties_left-- > 0)) selected[n++] = int32_t(j);
  }
}

}  // namespace fastvideo
