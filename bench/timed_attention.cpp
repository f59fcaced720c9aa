#ifdef FASTVIDEO_HAVE_CUDA
#include "timed_attention.h"

#include "core/cuda/cuda_check.h"

namespace fastvideo::bench {

TimedAttention::~TimedAttention() {
  for (auto [start, stop] : events_) {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
}

Tensor TimedAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                               const AttentionMetadata* metadata,
                               const AttentionExtras& extras) const {
  if (used_ == events_.size()) {
    cudaEvent_t start = nullptr, stop = nullptr;
    FV_CUDA_CHECK(cudaEventCreate(&start));
    FV_CUDA_CHECK(cudaEventCreate(&stop));
    events_.emplace_back(start, stop);
  }
  const auto [start, stop] = events_[used_++];
  FV_CUDA_CHECK(cudaEventRecord(start, ctx_.stream()));
  Tensor out = inner_.run(q, k, v, scale, metadata, extras);
  FV_CUDA_CHECK(cudaEventRecord(stop, ctx_.stream()));
  return out;
}

std::vector<double> TimedAttention::take_ms() {
  std::vector<double> ms;
  for (size_t i = 0; i < used_; ++i) {
    FV_CUDA_CHECK(cudaEventSynchronize(events_[i].second));
    float elapsed = 0;
    FV_CUDA_CHECK(cudaEventElapsedTime(&elapsed, events_[i].first, events_[i].second));
    ms.push_back(elapsed);
  }
  used_ = 0;
  return ms;
}

}  // namespace fastvideo::bench

#endif
