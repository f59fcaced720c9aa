#include "schedulers/scheduler.h"

#include <cmath>

#include "core/format_number.h"
#include "fastvideo/error.h"

namespace fastvideo {

Tensor Scheduler::step(const Tensor& model_output, int step_index, const Tensor& sample) {
  ops::LinearChain chain;
  const Ref v = chain.input(model_output);
  const Ref next = add_step(chain, v, step_index, chain.input(sample));
  chain.keep(next);
  chain.run();
  return chain.result(next);
}

void check_noise_levels(const std::vector<double>& sigmas, double shift, const char* scheduler) {
  for (size_t i = 0; i + 1 < sigmas.size(); ++i) {
    if (std::isfinite(sigmas[i]) && sigmas[i] > sigmas[i + 1]) continue;
    fail("flow_shift=", shortest(shift), " leaves ", scheduler, "'s ", sigmas.size() - 1,
         "-step schedule without distinct noise levels (sigma ", i, " = ", sigmas[i],
         " does not exceed sigma ", i + 1, " = ", sigmas[i + 1],
         " in float32); use a larger flow_shift (Wan's presets use 3 to 12)");
  }
}

}  // namespace fastvideo
