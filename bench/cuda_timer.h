// Timing on a GPU's stream for the benchmarks: CUDA events around each run, so host-side launch
// work that overlaps the GPU is not counted and what is queued before is not either.
#pragma once

#include <functional>

#include "core/cuda/cuda_context.h"

namespace fastvideo::bench {

// The median milliseconds of `repeats` runs of `run` on ctx's stream after `warmup` untimed ones.
double median_gpu_ms(CudaContext& ctx, int warmup, int repeats, const std::function<void()>& run);

}  // namespace fastvideo::bench
