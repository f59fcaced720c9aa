#ifdef FASTVIDEO_HAVE_CUDA
#include "cuda_timer.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "core/cuda/cuda_check.h"

namespace fastvideo::bench {

double median_gpu_ms(CudaContext& ctx, int warmup, int repeats, const std::function<void()>& run) {
  FV_CHECK(repeats >= 1, "median_gpu_ms: repeats must be at least 1, got ", repeats);
  for (int i = 0; i < warmup; ++i) run();
  cudaEvent_t start, stop;
  FV_CUDA_CHECK(cudaEventCreate(&start));
  FV_CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    FV_CUDA_CHECK(cudaEventRecord(start, ctx.stream()));
    run();
    FV_CUDA_CHECK(cudaEventRecord(stop, ctx.stream()));
    FV_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    FV_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms);
  }
  FV_CUDA_CHECK(cudaEventDestroy(start));
  FV_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace fastvideo::bench
#endif
