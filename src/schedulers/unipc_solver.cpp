// UniPC-bh in flow form; the formulas are wan21.md §4.2 written as coefficients of stored tensors.
#include "schedulers/unipc_solver.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace fastvideo {
namespace {

using Ref = ops::LinearChain::Ref;

// An f32 value of the chain. Terms with a zero coefficient are left out, so the final step
// (σ_N = 0) returns m_{N−1} exactly.
Ref combine(ops::LinearChain& chain, std::initializer_list<std::pair<Ref, double>> terms) {
  std::vector<std::pair<Ref, double>> used;
  for (auto [ref, c] : terms) {
    if (c != 0.0) used.emplace_back(ref, c);
  }
  return chain.combine(used, DType::F32);
}

}  // namespace

UniPCSolver::UniPCSolver(UniPCOptions options) : options_(std::move(options)) {
  FV_CHECK(options_.order == 1 || options_.order == 2, "UniPC solver_order ", options_.order,
           " is not supported (1 or 2)");
}

void UniPCSolver::reset(std::vector<double> sigmas) {
  FV_CHECK(sigmas.size() >= 2, "UniPC needs at least one step, got ", sigmas.size(), " sigmas");
  FV_CHECK(sigmas.back() == 0.0, "UniPC expects a final sigma of 0, got ", sigmas.back());
  sigmas_ = std::move(sigmas);
  next_step_ = 0;
  last_corrected_ = Tensor();
  m_.clear();
}

double UniPCSolver::lambda(int i) const {
  const double s = sigmas_[size_t(i)];
  if (s == 0.0) return std::numeric_limits<double>::infinity();
  return std::log(1.0 - s) - std::log(s);
}

int UniPCSolver::predictor_order(int k) const {
  // lower_order_final plus warm-up: min(order, N − k, k + 1).
  const int n = int(sigmas_.size()) - 1;
  return std::min({options_.order, n - k, k + 1});
}

UniPCCoefficients UniPCSolver::coefficients(int k) const {
  const int n = int(sigmas_.size()) - 1;
  FV_CHECK(k >= 0 && k < n, "UniPC step index ", k, " outside 0..", n - 1);
  UniPCCoefficients c;

  // Shared pieces of a step σ_s → σ_t (h = λ_t − λ_s, predict_x0 so hh = −h).
  struct Span {
    double ratio, alpha_t, phi, b_h, hh;
  };
  auto span = [&](int s, int t) {
    const double h = lambda(t) - lambda(s);
    const double hh = -h;
    const double phi = std::expm1(hh);  // −1 when σ_t = 0
    const double b_h = options_.variant == UniPCVariant::Bh2 ? phi : hh;
    return Span{sigmas_[size_t(t)] / sigmas_[size_t(s)], 1.0 - sigmas_[size_t(t)], phi, b_h, hh};
  };

  // Corrector UniC: step σ_{k−1} → σ_k from x̃_{k−1}, with the predictor order of step k−1.
  const bool disabled =
      std::find(options_.disable_corrector.begin(), options_.disable_corrector.end(), k - 1) !=
      options_.disable_corrector.end();
  if (k > 0 && !disabled) {
    const int p = predictor_order(k - 1);
    const Span sp = span(k - 1, k);
    c.corrector_order = p;
    c.corr_base = sp.ratio;
    const double a_b = sp.alpha_t * sp.b_h;
    double rho_last = 0.5;  // order 1
    if (p == 2) {
      const double h = -sp.hh;
      const double r = (lambda(k - 2) - lambda(k - 1)) / h;
      const double h_phi_k = sp.phi / sp.hh - 1.0;
      const double b1 = h_phi_k / sp.b_h;
      const double b2 = 2.0 * (h_phi_k / sp.hh - 0.5) / sp.b_h;
      const double rho0 = (b1 - b2) / (1.0 - r);  // solves [[1,1],[r,1]]·ρ = [b1,b2]
      rho_last = b1 - rho0;
      // − α·B·ρ0·D1 with D1 = (m_{k−2} − m_{k−1}) / r
      c.corr_m[2] = -a_b * rho0 / r;
      c.corr_m[1] = a_b * rho0 / r;
    }
    // base − α·B·ρ_last·(m_k − m_{k−1}), base = ratio·x̃_{k−1} − α·φ·m_{k−1}
    c.corr_m[0] = -a_b * rho_last;
    c.corr_m[1] += -sp.alpha_t * sp.phi + a_b * rho_last;
  }

  // Predictor UniP: step σ_k → σ_{k+1} from x̃_k.
  const int q = predictor_order(k);
  const Span sp = span(k, k + 1);
  c.predictor_order = q;
  c.pred_base = sp.ratio;
  c.pred_m[0] = -sp.alpha_t * sp.phi;
  if (q == 2) {
    // − α·B·0.5·D1 with D1 = (m_{k−1} − m_k) / r
    const double r = (lambda(k - 1) - lambda(k)) / (-sp.hh);
    const double w = sp.alpha_t * sp.b_h * 0.5 / r;
    c.pred_m[1] = -w;
    c.pred_m[0] += w;
  }
  return c;
}

Ref UniPCSolver::add_step(ops::LinearChain& chain, Ref v, int k, Ref sample) {
  FV_CHECK(!sigmas_.empty(), "UniPC step before set_timesteps");
  if (k == 0) reset(std::move(sigmas_));
  FV_CHECK(k == next_step_, "UniPC steps must run in order: expected step ", next_step_, ", got ",
           k);
  const UniPCCoefficients c = coefficients(k);

  // m_k = x_k − σ_k·v_k, from the uncorrected sample the model saw. diffusers and FastVideo form
  // σ_k·v_k in v's dtype (bf16 in the Wan pipelines) before the f32 subtraction; here it is exact.
  const Ref m = combine(chain, {{sample, 1.0}, {v, -sigmas_[size_t(k)]}});
  Ref corrected = sample;
  Ref m1, m2;  // m_{k−1}, m_{k−2} where a step reads them
  if (c.corrector_order > 0 || c.predictor_order == 2) m1 = chain.input(m_.at(0));
  if (c.corrector_order == 2) m2 = chain.input(m_.at(1));
  if (c.corrector_order > 0) {
    const Ref last = chain.input(last_corrected_);
    corrected = combine(chain, {{last, c.corr_base},
                                {m, c.corr_m[0]},
                                {m1, c.corr_m[1]},
                                {c.corrector_order == 2 ? m2 : m1, c.corr_m[2]}});
  }
  const Ref next = combine(
      chain,
      {{corrected, c.pred_base}, {m, c.pred_m[0]}, {c.predictor_order == 2 ? m1 : m, c.pred_m[1]}});

  // The history is what this chain computes: the step counts once it has run.
  chain.keep(m);
  if (corrected.node != sample.node) chain.keep(corrected);
  chain.on_run([this, m, corrected](const ops::LinearChain& ran) {
    ++next_step_;
    last_corrected_ = ran.result(corrected);
    m_.insert(m_.begin(), ran.result(m));
    if (int(m_.size()) > options_.order) m_.pop_back();
  });
  return next;
}

}  // namespace fastvideo
