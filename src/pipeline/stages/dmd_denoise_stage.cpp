#include "pipeline/stages/dmd_denoise_stage.h"

#include "fastvideo/log.h"
#include "pipeline/dmd_denoise_loop.h"

namespace fastvideo {

DmdDenoiseStage::DmdDenoiseStage(const WanTransformer& transformer, const WanGeometry& geometry,
                                 std::vector<int> timesteps, const SparseAttentionSettings& sparse,
                                 const ProgressCallback& progress, const StopFlag& stop)
    : transformer_(transformer),
      geometry_(geometry),
      timesteps_(std::move(timesteps)),
      sparse_(sparse),
      progress_(progress),
      stop_(stop) {}

void DmdDenoiseStage::run(RequestState& state) {
  FV_CHECK(state.generator.has_value(), "dmd denoise: no generator (prepare_latents did not run)");
  const int steps = int(timesteps_.size());
  const DmdDenoiseLoop loop{transformer_, geometry_, state.cond_text,
                            timesteps_,   sparse_,   *state.generator};
  state.result.transformer_forwards =
      run_dmd_denoise_loop(loop, state.latents, [&](int step, double seconds) {
        log::debug("denoise step ", step + 1, "/", steps, " (t=", timesteps_[size_t(step)],
                   "): ", seconds, " s");
        if (progress_.fn) progress_.fn(step + 1, steps, seconds, progress_.user);
        stop_.throw_if_requested(str_cat("denoising (after step ", step + 1, " of ", steps, ")"));
      });
}

}  // namespace fastvideo
