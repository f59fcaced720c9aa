// The UniPC multistep update in its flow form (wan21.md §4.2): data prediction (predict_x0),
// predictor UniP and corrector UniC with the B(h) variants bh1/bh2, orders 1 and 2, lower order
// at the final step. FlowUniPCScheduler and UniPCMultistepScheduler differ only in their schedule
// and share this solver.
#pragma once

#include <array>
#include <vector>

#include "core/tensor.h"
#include "ops/linear_chain.h"

namespace fastvideo {

enum class UniPCVariant { Bh1, Bh2 };  // B(h) = h·e^{...}: bh1 B = −h, bh2 B = expm1(−h)

struct UniPCOptions {
  int order = 2;  // solver_order: 1 or 2
  UniPCVariant variant = UniPCVariant::Bh2;
  std::vector<int> disable_corrector;  // step indices k whose following corrector is skipped
};

// One step's update as affine combinations (coefficients sum to 1) of stored tensors:
//   corrector  x̃_k     = corr_base·x̃_{k−1} + corr_m[0]·m_k + corr_m[1]·m_{k−1} + corr_m[2]·m_{k−2}
//   predictor  x_{k+1} = pred_base·x̃_k     + pred_m[0]·m_k + pred_m[1]·m_{k−1}
// where m_j = x_j − σ_j·v_j is the x0 prediction and x̃ the corrected sample.
struct UniPCCoefficients {
  int corrector_order = 0;  // 0: no corrector at this step
  double corr_base = 0;
  std::array<double, 3> corr_m{};
  int predictor_order = 0;
  double pred_base = 0;
  std::array<double, 2> pred_m{};
};

class UniPCSolver {
 public:
  explicit UniPCSolver(UniPCOptions options);

  // sigmas: N+1 values, decreasing, last one 0 (final_sigmas_type "zero"). Clears history.
  void reset(std::vector<double> sigmas);

  // Depends only on the schedule and options; step() applies exactly these.
  UniPCCoefficients coefficients(int k) const;

  // x_{k+1} from model output v_k at sample x_k; see Scheduler::add_step.
  ops::LinearChain::Ref add_step(ops::LinearChain& chain, ops::LinearChain::Ref v, int k,
                                 ops::LinearChain::Ref sample);

 private:
  double lambda(int i) const;  // log(α_i) − log(σ_i); +∞ at σ = 0
  int predictor_order(int k) const;

  UniPCOptions options_;
  std::vector<double> sigmas_;
  int next_step_ = 0;
  Tensor last_corrected_;  // x̃_{k−1}
  std::vector<Tensor> m_;  // m_{k−1}, m_{k−2} (most recent first)
};

}  // namespace fastvideo
