#include "pipeline/cfg_gate.h"

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

CfgGate::Ref CfgGate::combine(ops::LinearChain& chain, int step, Ref cond, Ref uncond) {
  if (!do_cfg()) return cond;
  const DType dtype = chain.dtype(cond);
  if (!needs_uncond(step)) {
    ++reused_;
    return chain.combine({{cond, 1.0}, {chain.input(delta_), scale_ - 1.0}}, dtype);
  }
  FV_CHECK(uncond.defined(), "CFG step ", step, " needs the unconditional prediction");
  ++fresh_;
  // wan21.md §4.1: uncond + s·(cond − uncond), each rounded to the output dtype.
  const Ref delta = chain.combine({{cond, 1.0}, {uncond, -1.0}}, dtype);
  const Ref pred = chain.combine({{uncond, 1.0}, {delta, scale_}}, chain.dtype(uncond));
  if (active_) {
    chain.keep(delta);
    chain.on_run([this, delta](const ops::LinearChain& ran) { delta_ = ran.result(delta); });
  }
  return pred;
}

}  // namespace fastvideo
