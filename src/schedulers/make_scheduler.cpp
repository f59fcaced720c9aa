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
    const std::string cls =
        scheduler_config->get_or<std::string>("_class_name", "UniPCMultistepScheduler");
    FV_CHECK(cls == "UniPCMultistepScheduler", scheduler_config->origin(),
             ": key '_class_name' has value ", scheduler_config->quote("_class_name"),
             "; scheduler 'checkpoint' is configured only by UniPCMultistepScheduler (use "
             "flow_unipc or euler)");
    return std::make_unique<UniPCMultistepScheduler>(
        UniPCMultistepScheduler::from_config(*scheduler_config, flow_shift));
  }
  fail("unknown scheduler '", name, "'; valid names: flow_unipc (default), checkpoint, euler");
}

}  // namespace fastvideo
