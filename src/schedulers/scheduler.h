// The denoising-loop scheduler interface (wan21.md §4): a timestep schedule the model is run at,
// and an update that turns the model's flow prediction v at sample x into the next sample.
//
// Every tensor update is one ops::linear_combination, so the same scheduler runs on any backend
// that implements that op. Scalar math (sigmas, log-SNRs, solver coefficients) is double; the
// reference implementations use float32 torch scalars there, which differs at about 1e-7 relative.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastvideo {

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Builds the schedule for num_steps model evaluations and clears any solver history.
  virtual void set_timesteps(int num_steps) = 0;

  // The N timestep values the transformer is conditioned on (e.g. 999.0, 993.0, ...).
  virtual const std::vector<double>& timesteps() const = 0;

  // The N+1 noise levels σ_0 > ... > σ_{N−1} > σ_N = 0 the solver integrates over (float32 values,
  // as the references store them).
  virtual const std::vector<double>& sigmas() const = 0;

  // Next sample from the model output at step `step_index` (0..N−1) for `sample`. Multistep
  // schedulers keep history: steps must come in order, and step 0 starts a new trajectory.
  // model_output may be bf16 (it is converted); sample and the result are f32.
  virtual Tensor step(const Tensor& model_output, int step_index, const Tensor& sample) = 0;

  virtual std::string name() const = 0;
};

// The flow-matching time shift σ' = s·σ / (1 + (s − 1)·σ) (wan21.md §4.2), in double in the
// operation order numpy uses: (s·σ) / (1 + (s − 1)·σ).
inline double shift_sigma(double sigma, double shift) {
  return (shift * sigma) / (1.0 + (shift - 1.0) * sigma);
}

// The same shift as torch computes it on a float32 tensor with Python-float s.
inline float shift_sigma_f32(float sigma, double shift) {
  const float s = float(shift);
  const float s_minus_1 = float(shift - 1.0);
  return (s * sigma) / (1.0f + s_minus_1 * sigma);
}

// numpy.linspace(start, stop, num) element i (endpoint included): i·step + start, step = Δ/(num−1),
// with the last point exactly `stop`. Reproduced so truncated timesteps land exactly where the
// references put them.
inline double numpy_linspace(double start, double stop, int num, int i) {
  if (i == num - 1) return stop;
  const double step = (stop - start) / double(num - 1);
  return double(i) * step + start;
}

}  // namespace fastvideo
