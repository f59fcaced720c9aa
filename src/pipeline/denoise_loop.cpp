#include "pipeline/denoise_loop.h"

#include <chrono>
#include <tuple>

#include "core/device_step_flags.h"
#include "core/stop_flag.h"
#include "fastvideo/error.h"
#include "ops/linear_chain.h"

namespace fastvideo {

int run_denoise_loop(const DenoiseLoop& loop, Tensor& latents, int steps,
                     const DenoiseStepDone& step_done) {
  const std::vector<double>& timesteps = loop.scheduler.timesteps();
  const int n = steps < 0 ? int(timesteps.size()) : steps;
  FV_CHECK(n <= int(timesteps.size()), "denoise: ", n, " steps asked of a ", timesteps.size(),
           "-step schedule");
  const AttentionBackend& attention = loop.transformer.self_attention();
  DeviceStepFlags non_finite(latents.device(), n);
  auto done_at = std::chrono::steady_clock::now();
  // Step i's NaN check and report, once step i+1 is queued behind it (or i is the last). The CPU
  // has finished a step when it is queued, so there the step is reported at once: its time is
  // its own, and a stop comes before the next step instead of after it.
  const bool queued = !latents.device().is_cpu();
  const auto finish = [&](int i) {
    FV_CHECK(non_finite.value(i) == 0, "denoising step ", i, " (t=", timesteps[size_t(i)],
             ") produced NaN or Inf in the transformer output");
    const auto now = std::chrono::steady_clock::now();
    if (step_done) step_done(i, std::chrono::duration<double>(now - done_at).count());
    done_at = now;
  };
  int forwards = 0;
  for (int i = 0; i < n; ++i) {
    const double t = timesteps[size_t(i)];
    const double ts[] = {t};
    const auto metadata =
        attention.build_metadata(loop.sparse.step(i, t, loop.geometry.token_grid(latents.shape())));
    Tensor cond, uncond;
    try {
      if (loop.gate.needs_uncond(i)) {
        // With CFG-parallel the two passes run at once on their GPU groups.
        std::tie(cond, uncond) = loop.transformer.forward_cfg(latents, ts, loop.cond_text,
                                                              loop.uncond_text, metadata.get());
        forwards += 2;
      } else {
        cond = loop.transformer.forward(latents, ts, loop.cond_text, metadata.get());
        ++forwards;
      }
    } catch (const Cancelled& e) {  // on the CPU the transformer stops between its blocks
      throw_stop_within(e, str_cat("denoising (step ", i + 1, " of ", n));
    }
    // CFG's combine and the scheduler's update as one chain (one kernel on a GPU); the velocity's
    // NaN check is a word the kernel sets, read back after the next step is queued.
    ops::LinearChain chain;
    const ops::LinearChain::Ref velocity =
        loop.gate.combine(chain, i, chain.input(cond),
                          uncond.defined() ? chain.input(uncond) : ops::LinearChain::Ref{});
    chain.flag_non_finite(velocity, non_finite.flags(), i);
    const ops::LinearChain::Ref next =
        loop.scheduler.add_step(chain, velocity, i, chain.input(latents));
    chain.keep(next);
    chain.run();
    latents = chain.result(next);
    non_finite.mark(i);
    if (!queued) {
      finish(i);
    } else if (i > 0) {
      finish(i - 1);
    }
  }
  if (queued && n > 0) finish(n - 1);
  return forwards;
}

}  // namespace fastvideo
