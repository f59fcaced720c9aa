#ifdef FASTVIDEO_HAVE_CUDA
#include "cuda_timer.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/cuda/cuda_check.h"

namespace fastvideo::bench {

void warm_up_gpu(cudaStream_t stream, int calls, int ms, const std::function<void()>& run) {
  for (int i = 0; i < calls; ++i) run();
  if (ms <= 0) return;
  cudaEvent_t done[2];
  for (cudaEvent_t& e : done) FV_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
    run();
    FV_CUDA_CHECK(cudaEventRecord(done[i % 2], stream));
    if (i > 0) FV_CUDA_CHECK(cudaEventSynchronize(done[(i + 1) % 2]));  // run i - 1's
  }
  FV_CUDA_CHECK(cudaStreamSynchronize(stream));
  for (cudaEvent_t e : done) FV_CUDA_CHECK(cudaEventDestroy(e));
}

double median_gpu_ms(CudaContext& ctx, int warmup, int repeats, const std::function<void()>& run) {
  FV_CHECK(repeats >= 1, "median_gpu_ms: repeats must be at least 1, got ", repeats);
  warm_up_gpu(ctx.stream(), warmup, 0, run);
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
