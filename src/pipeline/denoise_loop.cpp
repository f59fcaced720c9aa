#include "pipeline/denoise_loop.h"

#include <chrono>
#include <tuple>

#include "ops/elementwise.h"

namespace fastvideo {

int run_denoise_loop(const DenoiseLoop& loop, Tensor& latents, int steps,
                     const DenoiseStepDone& step_done) {
  const std::vector<double>& timesteps = loop.scheduler.timesteps();
  const int n = steps < 0 ? int(timesteps.size()) : steps;
  FV_CHECK(n <= int(timesteps.size()), "denoise: ", n, " steps asked of a ", timesteps.size(),
           "-step schedule");
  const AttentionBackend& attention = loop.transformer.self_attention();
  int forwards = 0;
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const double t = timesteps[size_t(i)];
    const double ts[] = {t};
    const auto metadata =
        attention.build_metadata(loop.sparse.step(i, t, loop.geometry.token_grid(latents.shape())));
    Tensor cond, uncond;
    if (loop.gate.needs_uncond(i)) {
      // With CFG-parallel the two passes run at once on their GPU groups.
      std::tie(cond, uncond) = loop.transformer.forward_cfg(latents, ts, loop.cond_text,
                                                            loop.uncond_text, metadata.get());
      forwards += 2;
    } else {
      cond = loop.transformer.forward(latents, ts, loop.cond_text, metadata.get());
      ++forwards;
    }
    // wan21.md §4.1: CFG in the transformer's output dtype; the scheduler upcasts.
    const Tensor velocity = loop.gate.combine(i, cond, uncond);
    FV_CHECK(ops::all_finite(velocity), "denoising step ", i, " (t=", t,
             ") produced NaN or Inf in the transformer output");
    latents = loop.scheduler.step(velocity, i, latents);
    if (step_done) {
      step_done(i, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  return forwards;
}

}  // namespace fastvideo
