// diffusers UniPCMultistepScheduler.set_timesteps with use_flow_sigmas (wan21.md §4.2):
//   σ̂ = linspace(1, 1/T, N+1)[:−1];  σ = shift(σ̂);  if |σ_0 − 1| < 1e-6: σ_0 −= 1e-6
//   timesteps = int64(σ·T);  sigmas = float32([σ, 0])
#include "schedulers/unipc_multistep_scheduler.h"

#include <cmath>

namespace fastvideo {
namespace {

// Keys whose value must be exactly what this implementation supports.
template <class T>
void require(const JsonFile& cfg, const std::string& key, const T& supported, bool required) {
  if (!cfg.has(key)) {
    if (required) fail(cfg.origin(), ": missing key '", key, "'");
    return;
  }
  const T value = cfg.get<T>(key);
  if (value != supported) {
    fail(cfg.origin(), ": unsupported ", key, " = ", cfg.quote(key),
         " (the UniPC scheduler supports only ", nlohmann::json(supported).dump(), ")");
  }
}

}  // namespace

UniPCMultistepScheduler::UniPCMultistepScheduler(UniPCMultistepConfig config)
    : config_(std::move(config)), solver_(config_.solver) {
  FV_CHECK(config_.flow_shift > 0, "UniPC: flow_shift must be positive, got ", config_.flow_shift);
  FV_CHECK(config_.num_train_timesteps > 1, "UniPC: num_train_timesteps must be > 1, got ",
           config_.num_train_timesteps);
}

UniPCMultistepScheduler UniPCMultistepScheduler::from_config(const JsonFile& cfg,
                                                             std::optional<double> flow_shift) {
  // diffusers defaults would select the DDPM (beta) schedule; Wan needs the flow settings.
  require(cfg, "use_flow_sigmas", true, true);
  require(cfg, "prediction_type", std::string("flow_prediction"), true);
  require(cfg, "predict_x0", true, false);
  require(cfg, "thresholding", false, false);
  require(cfg, "use_dynamic_shifting", false, false);
  require(cfg, "use_karras_sigmas", false, false);
  require(cfg, "use_exponential_sigmas", false, false);
  require(cfg, "use_beta_sigmas", false, false);
  require(cfg, "final_sigmas_type", std::string("zero"), false);
  // diffusers' order-2 predictor into σ = 0 divides by zero, so only lower_order_final works.
  require(cfg, "lower_order_final", true, false);
  if (cfg.has("shift_terminal")) {
    fail(cfg.origin(), ": unsupported shift_terminal = ", cfg.quote("shift_terminal"),
         " (only null)");
  }
  if (cfg.has("solver_p")) {
    fail(cfg.origin(), ": unsupported solver_p = ", cfg.quote("solver_p"), " (only null)");
  }

  // The request's flow_shift (the preset's or the one asked for) replaces the file's, as FastVideo
  // does; the file's is still checked, so a broken value is not passed over in silence.
  if (cfg.has("flow_shift") && !(cfg.get<double>("flow_shift") > 0)) {
    fail(cfg.origin(), ": unsupported flow_shift = ", cfg.quote("flow_shift"),
         " (a positive number; the request's flow_shift replaces it when one is given)");
  }
  UniPCMultistepConfig c;
  c.num_train_timesteps = cfg.get_or<int>("num_train_timesteps", 1000);
  c.flow_shift = flow_shift ? *flow_shift : cfg.get_or<double>("flow_shift", 1.0);
  c.solver.order = cfg.get_or<int>("solver_order", 2);
  if (c.solver.order != 1 && c.solver.order != 2) {
    fail(cfg.origin(), ": unsupported solver_order = ", c.solver.order, " (1 or 2)");
  }
  const std::string solver_type = cfg.get_or<std::string>("solver_type", "bh2");
  if (solver_type == "bh2") {
    c.solver.variant = UniPCVariant::Bh2;
  } else if (solver_type == "bh1") {
    c.solver.variant = UniPCVariant::Bh1;
  } else {
    fail(cfg.origin(), ": unsupported solver_type = ", cfg.quote("solver_type"), " (bh1 or bh2)");
  }
  c.solver.disable_corrector = cfg.get_or<std::vector<int>>("disable_corrector", {});
  if (c.num_train_timesteps <= 1) {
    fail(cfg.origin(), ": unsupported num_train_timesteps = ", c.num_train_timesteps);
  }
  if (!(c.flow_shift > 0)) fail(cfg.origin(), ": unsupported flow_shift = ", c.flow_shift);
  return UniPCMultistepScheduler(std::move(c));
}

void UniPCMultistepScheduler::set_timesteps(int num_steps) {
  FV_CHECK(num_steps >= 1, "UniPC: num_steps must be >= 1, got ", num_steps);
  const int t_train = config_.num_train_timesteps;
  std::vector<double> sigma(static_cast<size_t>(num_steps));
  for (int i = 0; i < num_steps; ++i) {
    sigma[size_t(i)] =
        shift_sigma(numpy_linspace(1.0, 1.0 / t_train, num_steps + 1, i), config_.flow_shift);
  }
  // Keeps log(1 − σ_0) finite in the first updates.
  if (std::fabs(sigma[0] - 1.0) < 1e-6) sigma[0] -= 1e-6;
  timesteps_.clear();
  sigmas_.clear();
  for (double s : sigma) {
    timesteps_.push_back(std::trunc(s * t_train));
    sigmas_.push_back(double(float(s)));
  }
  sigmas_.push_back(0.0);
  check_noise_levels(sigmas_, config_.flow_shift, "unipc");
  solver_.reset(sigmas_);
}

Scheduler::Ref UniPCMultistepScheduler::add_step(ops::LinearChain& chain, Ref v, int step_index,
                                                 Ref sample) {
  return solver_.add_step(chain, v, step_index, sample);
}

}  // namespace fastvideo
