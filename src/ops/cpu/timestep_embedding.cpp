// CPU twin of src/ops/timestep_embedding.h.
#include "ops/timestep_embedding.h"

#include <cmath>

namespace fastvideo::ops::cpu {

Tensor timestep_embedding(std::span<const double> timesteps, int dim, Device /*device: the CPU*/) {
  const int64_t B = int64_t(timesteps.size()), half = dim / 2;
  Tensor y = Tensor::empty({B, dim}, DType::F32);
  float* out = y.data<float>();
  // diffusers get_timestep_embedding: exponent = −ln(10000)·arange(half) in f32, divided by half,
  // exp in f32; the argument t.float()·ω is an f32 product. Each step is rounded to f32 here as
  // there; exp/cos/sin are evaluated in double and rounded once (correctly rounded f32).
  const float neg_log_period = float(-std::log(10000.0));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = (neg_log_period * float(i)) / float(half);
    const float omega = float(std::exp(double(exponent)));
    for (int64_t b = 0; b < B; ++b) {
      const float arg = float(timesteps[size_t(b)]) * omega;
      out[b * dim + i] = float(std::cos(double(arg)));
      out[b * dim + half + i] = float(std::sin(double(arg)));
    }
  }
  return y;
}

}  // namespace fastvideo::ops::cpu
