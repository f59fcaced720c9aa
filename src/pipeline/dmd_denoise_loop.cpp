#include "pipeline/dmd_denoise_loop.h"

#include <chrono>
#include <future>

#include "core/stop_flag.h"
#include "fastvideo/error.h"
#include "ops/elementwise.h"
#include "pipeline/latent_noise.h"
#include "schedulers/dmd_schedule.h"

namespace fastvideo {

int run_dmd_denoise_loop(const DmdDenoiseLoop& loop, Tensor& latents,
                         const DenoiseStepDone& step_done) {
  const std::string bad = invalid_dmd_timesteps(loop.timesteps);
  FV_CHECK(bad.empty(), "DMD timesteps ", format_dmd_timesteps(loop.timesteps), ": ", bad);
  const AttentionBackend& attention = loop.transformer.self_attention();
  const int n = int(loop.timesteps.size());
  for (int i = 0; i < n; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    // FastVideo draws ε after the forward of every step but the last, in float32 on the CPU (on a
    // GPU it draws in the model output's dtype, bf16; not reproduced: see docs/config.md). The
    // draw depends on nothing the forward computes, so it runs on a CPU thread meanwhile: drawing
    // a 448x832x61 latent's 1.5 M values takes tens of milliseconds.
    std::future<Tensor> noise;
    if (i + 1 < n) {
      noise = std::async(std::launch::async, [&loop, shape = latents.shape()] {
        return draw_latent_noise(loop.generator, shape, WanPipelineKind::Dmd);
      });
    }
    // The transformer is conditioned on the integer timestep itself (1000, not σ·1000).
    const double t = loop.timesteps[size_t(i)];
    const double ts[] = {t};
    const auto metadata =
        attention.build_metadata(loop.sparse.step(i, t, loop.geometry.token_grid(latents.shape())));
    Tensor velocity;
    try {
      velocity = loop.transformer.forward(latents, ts, loop.text, metadata.get());
    } catch (const Cancelled& e) {  // on the CPU the transformer stops between its blocks
      throw_stop_within(e, str_cat("denoising (step ", i + 1, " of ", n));
    }
    FV_CHECK(ops::all_finite(velocity), "denoising step ", i, " (t=", t,
             ") produced NaN or Inf in the transformer output");
    Tensor x0 = dmd_predict_x0(latents, velocity, dmd_sigma(int(t)));
    if (noise.valid()) {
      latents = dmd_add_noise(x0, noise.get().to(latents.device()),
                              dmd_sigma(loop.timesteps[size_t(i) + 1]));
    } else {
      latents = std::move(x0);
    }
    if (step_done) {
      step_done(i, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  return n;
}

}  // namespace fastvideo
