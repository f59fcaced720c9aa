// Scheduler selection by name: "flow_unipc" (FastVideo's default), "checkpoint" (diffusers UniPC
// configured by the checkpoint's scheduler/scheduler_config.json), "euler" (flow-match Euler).
#pragma once

#include <array>
#include <memory>
#include <string_view>

#include "io/json_file.h"
#include "schedulers/scheduler.h"

namespace fastvideo {

inline constexpr std::string_view kDefaultScheduler = "flow_unipc";

// The diffusers scheduler classes a checkpoint may name: the ones these schedulers implement
// (UniPC, flow-match Euler). Only UniPCMultistepScheduler configures "checkpoint".
inline constexpr std::array<std::string_view, 2> kCheckpointSchedulerClasses = {
    "UniPCMultistepScheduler", "FlowMatchEulerDiscreteScheduler"};

// flow_shift applies to every scheduler; for "checkpoint" it replaces the json's flow_shift.
// scheduler_config is needed only for "checkpoint".
std::unique_ptr<Scheduler> make_scheduler(std::string_view name, double flow_shift,
                                          const JsonFile* scheduler_config);

}  // namespace fastvideo
