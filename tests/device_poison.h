// For CUDA tests: blocks of NaN (all-ones bits) left in the device allocator's cache, so that the
// next outputs and temporaries of that size start as NaN and a row a kernel never writes fails
// its comparison instead of passing on stale memory.
#pragma once

#include "core/tensor.h"

namespace fastvideo::testing {

// Eight BF16 blocks of `shape` on `device`, filled with 0xff bytes and freed.
void poison_next_outputs(const Shape& shape, Device device);

}  // namespace fastvideo::testing
