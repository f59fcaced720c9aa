// The denoising-loop scheduler interface (wan21.md §4): a timestep schedule the model is run at,
// and an update that turns the model's flow prediction v at sample x into the next sample.
//
// A step's tensor updates are values of an ops::LinearChain, so the same scheduler runs on any
// backend that implements that op, and the denoising loop runs CFG's combine and the update as one
// chain (issue 11). Scalar math (sigmas, log-SNRs, solver coefficients) is double; the
// reference implementations use float32 torch scalars there, which differs at about 1e-7 relative.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "ops/linear_chain.h"

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

  // Step `step_index` (0..N−1) into `chain`: v is the model output (F32 or BF16), sample the
  // sample (F32); returns the next sample (F32). Multistep schedulers keep history, which they
  // take when the chain runs: steps must come in order, one chain each, each run before the next
  // is built, and step 0 starts a new trajectory.
  using Ref = ops::LinearChain::Ref;
  virtual Ref add_step(ops::LinearChain& chain, Ref v, int step_index, Ref sample) = 0;

  // add_step on a chain of its own: the next sample for model_output at step_index.
  Tensor step(const Tensor& model_output, int step_index, const Tensor& sample);

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

// A schedule's noise levels σ_0 > σ_1 > ... > σ_N = 0 must be distinct: a flow_shift so small that
// the float32 σ underflow gives a solver dividing by log σ differences NaN, and Euler steps of 0
// (QA fuzzing: flow_shift 1e-30 ran to "step 1 produced NaN", naming no setting). The error names
// flow_shift (`shift`) and the scheduler.
void check_noise_levels(const std::vector<double>& sigmas, double shift, const char* scheduler);

// numpy.linspace(start, stop, num) element i (endpoint included): i·step + start, step = Δ/(num−1),
// with the last point exactly `stop`. Reproduced so truncated timesteps land exactly where the
// references put them.
inline double numpy_linspace(double start, double stop, int num, int i) {
  if (i == num - 1) return stop;
  const double step = (stop - start) / double(num - 1);
  return double(i) * step + start;
}

}  // namespace fastvideo
