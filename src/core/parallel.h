// CPU parallelism: a fixed pool sized by FASTVIDEO_NUM_THREADS (default: all cores).
#pragma once

#include <cstdint>
#include <functional>

namespace fastvideo {

int num_threads();

// Runs fn(begin, end) over [0, n) split into contiguous chunks of at least `grain` items.
// Deterministic: each index is processed exactly once, results do not depend on the split.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace fastvideo
