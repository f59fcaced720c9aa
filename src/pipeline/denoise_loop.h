// The denoising loop of a text-to-video generation (wan21.md §4.1), written once: the pipeline's
// denoise stage and `fastvideo-bench denoise` both run it. Per step: the step's attention metadata
// (one per step, shared by every layer and both CFG branches), the conditional forward, the
// unconditional one when CFG and its gate ask for it, then the guided velocity, its NaN check and
// the scheduler update as one LinearChain. The latents stay on the model's device, and the loop
// never waits inside a step (issue 11): step i's NaN flag is read, and step i reported, once step
// i+1 is queued behind it. So on a GPU an error or a stop after step i comes once step i+1 is
// queued; the host does not wait for that step (core/device_step_flags.h), the device finishes it
// on its own. On the CPU a step is done when queued and is reported at once.
// (Sequence parallelism still waits for its collectives at the end of each forward.)
#pragma once

#include <functional>

#include "core/tensor.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/wan_geometry.h"
#include "pipeline/cfg_gate.h"
#include "pipeline/sparse_attention_settings.h"
#include "schedulers/scheduler.h"

namespace fastvideo {

struct DenoiseLoop {
  const WanTransformer& transformer;
  const WanGeometry& geometry;
  Scheduler& scheduler;  // its timesteps set
  const WanTransformer::TextContext& cond_text;
  const WanTransformer::TextContext& uncond_text;  // read only when the gate asks for uncond
  CfgGate& gate;
  SparseAttentionSettings sparse;  // the resolved VSA_sparsity and SLA topk_ratio
};

// After step `step` (0-based) finished, `seconds` after the previous one did (the first: after the
// loop began): progress reports, per-step timing, a stop check (it may throw). On a GPU step i+1
// is queued by then.
using DenoiseStepDone = std::function<void(int step, double seconds)>;

// Runs the first `steps` steps of the scheduler's schedule (all of them when steps < 0) on
// `latents` (f32), which end as the denoised latents. Returns the transformer forwards run.
int run_denoise_loop(const DenoiseLoop& loop, Tensor& latents, int steps,
                     const DenoiseStepDone& step_done);

}  // namespace fastvideo
