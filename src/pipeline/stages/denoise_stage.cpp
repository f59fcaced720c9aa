#include "pipeline/stages/denoise_stage.h"

#include <algorithm>

#include "fastvideo/log.h"
#include "pipeline/cfg_gate.h"
#include "pipeline/denoise_loop.h"

namespace fastvideo {

DenoiseStage::DenoiseStage(const WanTransformer& transformer, const WanGeometry& geometry,
                           const SparseAttentionSettings& sparse, const ProgressCallback& progress,
                           const StopFlag& stop)
    : transformer_(transformer),
      geometry_(geometry),
      sparse_(sparse),
      progress_(progress),
      stop_(stop) {}

void DenoiseStage::run(RequestState& state) {
  const ResolvedRequest& r = state.resolved;
  const int steps = int(state.scheduler->timesteps().size());
  CfgGate gate(r.cfg_gate_step, r.guidance_scale, steps);
  const DenoiseLoop loop{transformer_,      geometry_, *state.scheduler, state.cond_text,
                         state.uncond_text, gate,      sparse_};
  // The CFG passes' joined context is not held through the decode, nor after a stopped loop.
  struct ReleaseJoinedContext {
    const WanTransformer& transformer;
    ~ReleaseJoinedContext() { transformer.release_cfg_batch(); }
  } release{transformer_};
  state.result.transformer_forwards =
      run_denoise_loop(loop, state.latents, -1, [&](int step, double seconds) {
        log::debug("denoise step ", step + 1, "/", steps, ": ", seconds, " s");
        if (progress_.fn) progress_.fn(step + 1, steps, seconds, progress_.user);
        stop_.throw_if_requested(str_cat("denoising (after step ", step + 1, " of ", steps, ")"));
      });
  if (gate.do_cfg()) {
    log::info("CFG gate: fraction ", r.cfg_gate_step, ", gate step ",
              std::min(gate.gate_step(), steps), ", fresh uncond ", gate.fresh(), ", reused ",
              gate.reused());
  }
  state.result.uncond_fresh = gate.fresh();
  state.result.uncond_reused = gate.reused();
}

}  // namespace fastvideo
