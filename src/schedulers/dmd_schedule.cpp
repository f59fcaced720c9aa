#include "schedulers/dmd_schedule.h"

#include <cmath>
#include <limits>

#include "ops/elementwise.h"
#include "schedulers/scheduler.h"

namespace fastvideo {

double dmd_sigma(int timestep, double shift, int num_train_timesteps) {
  // FlowMatchEulerDiscreteScheduler.__init__: t = 1000, 999, ..., 1 in float32, σ = shift(t/T) in
  // float32 tensor ops, table timesteps σ·T in float32. pred_noise_to_pred_video takes the argmin
  // of |timesteps − t| in float64 (torch.argmin: the first minimum).
  double best_distance = std::numeric_limits<double>::infinity();
  float best_sigma = 0;
  for (int i = 0; i < num_train_timesteps; ++i) {
    const float t = float(num_train_timesteps - i) / float(num_train_timesteps);
    const float sigma = shift_sigma_f32(t, shift);
    const float table_timestep = sigma * float(num_train_timesteps);
    const double distance = std::fabs(double(table_timestep) - double(timestep));
    if (distance < best_distance) {
      best_distance = distance;
      best_sigma = sigma;
    }
  }
  return double(best_sigma);
}

std::string invalid_dmd_timesteps(std::span<const int> timesteps) {
  if (timesteps.empty()) return "the list is empty; give at least one timestep";
  for (size_t i = 0; i < timesteps.size(); ++i) {
    if (timesteps[i] < 0 || timesteps[i] > 1000) {
      return str_cat("timestep ", timesteps[i], " (entry ", i, ") is outside [0, 1000]");
    }
    if (i > 0 && timesteps[i] >= timesteps[i - 1]) {
      return str_cat("timesteps must be strictly decreasing, but entry ", i, " (", timesteps[i],
                     ") follows ", timesteps[i - 1]);
    }
  }
  return "";
}

std::string format_dmd_timesteps(std::span<const int> timesteps) {
  std::string s = "[";
  for (size_t i = 0; i < timesteps.size(); ++i) s += str_cat(i ? ", " : "", timesteps[i]);
  return s + "]";
}

Tensor dmd_predict_x0(const Tensor& x_t, const Tensor& v, double sigma) {
  // v first: the result takes its dtype. The double accumulation forms −(σ·v) + x_t, the same two
  // roundings as x_t − σ·v in float64.
  const std::pair<Tensor, double> terms[] = {{v, -sigma}, {x_t, 1.0}};
  return ops::linear_combination(terms);
}

Tensor dmd_add_noise(const Tensor& x0, const Tensor& noise, double sigma) {
  const float s = float(sigma);
  // (1 − sigma) is a float32 tensor op on the float32 σ; the rest float32 products and a sum.
  const Tensor clean = x0.dtype() == DType::F32 ? x0 : x0.to(DType::F32);
  return ops::add(ops::scale(clean, 1.0f - s), ops::scale(noise, s));
}

}  // namespace fastvideo
