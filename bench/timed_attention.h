// `bench dit --time-attention`: a self-attention backend that records CUDA events around each call
// of the backend it wraps, so the attention's time is taken in place, between the forward's GEMMs
// and under the clocks a whole forward runs at, rather than alone in a loop (bench attention).
#pragma once

#include <cuda_runtime.h>

#include <utility>
#include <vector>

#include "attention/attention_backend.h"
#include "core/cuda/cuda_context.h"

namespace fastvideo::bench {

class TimedAttention final : public AttentionBackend {
 public:
  TimedAttention(const AttentionBackend& inner, CudaContext& ctx) : inner_(inner), ctx_(ctx) {}
  ~TimedAttention() override;
  TimedAttention(const TimedAttention&) = delete;
  TimedAttention& operator=(const TimedAttention&) = delete;

  std::string_view name() const override { return inner_.name(); }
  const AttentionCapabilities& capabilities() const override { return inner_.capabilities(); }
  AttentionBackendStatus status(const AttentionDevice& device) const override {
    return inner_.status(device);
  }
  bool chosen_automatically_on(const AttentionDevice& device) const override {
    return inner_.chosen_automatically_on(device);
  }
  std::unique_ptr<AttentionMetadata> build_metadata(const AttentionStepInfo& step) const override {
    return inner_.build_metadata(step);
  }

  // Milliseconds of each call since the last take_ms, in call order; waits for the last one.
  std::vector<double> take_ms();

 protected:
  Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const AttentionMetadata* metadata, const AttentionExtras& extras) const override;

 private:
  const AttentionBackend& inner_;
  CudaContext& ctx_;
  // Event pairs, reused across take_ms; `used_` of them hold calls not yet taken.
  mutable std::vector<std::pair<cudaEvent_t, cudaEvent_t>> events_;
  mutable size_t used_ = 0;
};

}  // namespace fastvideo::bench
