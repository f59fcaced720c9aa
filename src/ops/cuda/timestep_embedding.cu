// CUDA twin of src/ops/timestep_embedding.h: one thread per frequency, the timesteps passed by
// value in the launch, so nothing is copied from the host. The same f32 roundings as the CPU
// twin, with exp/cos/sin in double rounded once to f32.
#include <cmath>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/timestep_embedding.h"

namespace fastvideo::ops::cuda {

namespace {

constexpr int kMaxBatch = 16;

struct Timesteps {
  float t[kMaxBatch];  // float(t), as the reference's t.float()
  int count;
};

__global__ void timestep_embedding_kernel(const Timesteps ts, float neg_log_period, int half,
                                          float* __restrict__ out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= half) return;
  const float exponent = (neg_log_period * float(i)) / float(half);
  const float omega = float(exp(double(exponent)));
  for (int b = 0; b < ts.count; ++b) {
    const float arg = __fmul_rn(ts.t[b], omega);  // an f32 product, never contracted
    out[int64_t(b) * 2 * half + i] = float(cos(double(arg)));
    out[int64_t(b) * 2 * half + half + i] = float(sin(double(arg)));
  }
}

}  // namespace

Tensor timestep_embedding(std::span<const double> timesteps, int dim, Device device) {
  const int64_t B = int64_t(timesteps.size());
  // A batch this large is not one the pipelines make: computed on the host and copied (the copy
  // waits for the device's queue).
  if (B > kMaxBatch) return cpu::timestep_embedding(timesteps, dim, Device::cpu()).to(device);
  Tensor y = Tensor::empty({B, dim}, DType::F32, device);
  if (B == 0) return y;
  Timesteps ts{};
  for (int64_t b = 0; b < B; ++b) ts.t[b] = float(timesteps[size_t(b)]);
  ts.count = int(B);
  const int half = dim / 2;
  CudaContext& ctx = use_cuda_device(device.index);
  timestep_embedding_kernel<<<(half + 127) / 128, 128, 0, ctx.stream()>>>(
      ts, float(-std::log(10000.0)), half, y.data<float>());
  FV_CUDA_CHECK_LAUNCH();
  return y;
}

}  // namespace fastvideo::ops::cuda
