// Timing on a GPU's stream for the benchmarks: CUDA events around each run, so host-side launch
// work that overlaps the GPU is not counted and what is queued before is not either.
#pragma once

#include <cuda_runtime.h>

#include <functional>

#include "core/cuda/cuda_context.h"

namespace fastvideo::bench {

// `calls` untimed runs of `run`, then more for at least `ms` milliseconds of wall time, each
// queued behind the last while the host launches the next (two in flight at most), so that what
// is timed afterwards runs at the clock the card settles to under that load (its power cap: on an
// H100 within a few hundred ms, to a level that depends on the kernel; docs/perf.md, session 58).
void warm_up_gpu(cudaStream_t stream, int calls, int ms, const std::function<void()>& run);

// The median milliseconds of `repeats` runs of `run` on ctx's stream after `warmup` untimed ones.
double median_gpu_ms(CudaContext& ctx, int warmup, int repeats, const std::function<void()>& run);

}  // namespace fastvideo::bench
