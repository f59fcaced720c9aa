#include "pipeline/cfg_gate.h"

#include "ops/elementwise.h"

namespace fastvideo {

CfgGate::CfgGate(double fraction, double guidance_scale, int num_timesteps)
    : scale_(guidance_scale),
      active_(fraction < 1.0 && guidance_scale > 1.0),
      // fastvideo.md §5: g = int(len(timesteps)·f); inactive means never.
      gate_step_(active_ ? int(num_timesteps * fraction) : num_timesteps + 1) {}

bool CfgGate::needs_uncond(int step) const {
  if (!do_cfg()) return false;
  return !(step >= gate_step_ && delta_.defined());
}

Tensor CfgGate::combine(int step, const Tensor& cond, const Tensor& uncond) {
  if (!do_cfg()) return cond;
  if (!needs_uncond(step)) {
    ++reused_;
    const std::pair<Tensor, double> terms[] = {{cond, 1.0}, {delta_, scale_ - 1.0}};
    return ops::linear_combination(terms);
  }
  FV_CHECK(uncond.defined(), "CFG step ", step, " needs the unconditional prediction");
  ++fresh_;
  const std::pair<Tensor, double> diff[] = {{cond, 1.0}, {uncond, -1.0}};
  Tensor delta = ops::linear_combination(diff);
  const std::pair<Tensor, double> guided[] = {{uncond, 1.0}, {delta, scale_}};
  Tensor pred = ops::linear_combination(guided);
  if (active_) delta_ = std::move(delta);
  return pred;
}

}  // namespace fastvideo
