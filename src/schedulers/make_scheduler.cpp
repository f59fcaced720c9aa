#include "schedulers/make_scheduler.h"

#include "schedulers/flow_match_euler_scheduler.h"
#include "schedulers/flow_unipc_scheduler.h"
#include "schedulers/unipc_multistep_scheduler.h"

namespace fastvideo {

std::unique_ptr<Scheduler> make_scheduler(std::string_view name, double flow_shift,
                                          const JsonFile* scheduler_config) {
  if (name == "flow_unipc") return std::make_unique<FlowUniPCScheduler>(flow_shift);
  if (name == "euler") return std::make_unique<FlowMatchEulerScheduler>(flow_shift);
  if (name == "checkpoint") {
    FV_CHECK(scheduler_config != nullptr,
             "scheduler 'checkpoint' needs the checkpoint's scheduler/scheduler_config.json");
    return std::make_unique<UniPCMultistepScheduler>(
        UniPCMultistepScheduler::from_config(*scheduler_config, flow_shift));
  }
  fail("unknown scheduler '", name, "'; valid names: flow_unipc (default), checkpoint, euler");
}

}  // namespace fastvideo
