#include "schedulers/scheduler.h"

namespace fastvideo {

Tensor Scheduler::step(const Tensor& model_output, int step_index, const Tensor& sample) {
  ops::LinearChain chain;
  const Ref v = chain.input(model_output);
  const Ref next = add_step(chain, v, step_index, chain.input(sample));
  chain.keep(next);
  chain.run();
  return chain.result(next);
}

}  // namespace fastvideo
