// Classifier-free guidance with FastVideo's CFG gating (fastvideo.md §5, FASTVIDEO_CFG_GATE_STEP).
// From step g = int(N·f) on, the unconditional pass is skipped and the last fresh
// delta = cond − uncond is reused: pred = cond + (s − 1)·delta. f = 1 never gates.
#pragma once

#include "core/tensor.h"
#include "ops/linear_chain.h"

namespace fastvideo {

class CfgGate {
 public:
  CfgGate(double fraction, double guidance_scale, int num_timesteps);

  bool do_cfg() const { return scale_ > 1.0; }
  // Whether step i needs a fresh unconditional forward.
  bool needs_uncond(int step) const;
  // The guided prediction for step i as a value of `chain` (cond's dtype, as the references form
  // it in the transformer's output dtype); `uncond` must be defined exactly when needs_uncond(i).
  // Without CFG it is `cond` itself. The delta a gated step reuses is kept when the chain runs.
  using Ref = ops::LinearChain::Ref;
  Ref combine(ops::LinearChain& chain, int step, Ref cond, Ref uncond);

  int gate_step() const { return gate_step_; }
  int fresh() const { return fresh_; }
  int reused() const { return reused_; }

 private:
  double scale_;
  bool active_;
  int gate_step_;
  Tensor delta_;  // last fresh cond − uncond, kept only while gating is active
  int fresh_ = 0, reused_ = 0;
};

}  // namespace fastvideo
