// A rank group over NCCL (issue 15): one process drives several GPUs, one rank a GPU, each rank on
// its own thread (run_ranks), its collectives on a communication stream of the device (highest
// priority) that first waits for the compute stream's queue, so they follow the kernels that
// produce their inputs without a host wait, and the compute stream waits for them when their
// results are taken (Communicator::Pending::wait).
//
// Failure never hangs the group: communicators are non-blocking, and a watchdog thread checks
// every collective against a deadline. A collective that has not finished in time (a rank stopped,
// or hung), or a rank's abort(), aborts every communicator of the group, which ends the NCCL
// kernels still waiting; every rank's next collective then throws naming the rank and cause.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "parallel/communicator.h"

namespace fastvideo {

// The default time a collective may take before the group is declared hung.
inline constexpr std::chrono::seconds kNcclTimeout{300};

// kNcclTimeout, or FASTVIDEO_NCCL_TIMEOUT_S seconds (1 .. 86400) where set: a test machine lent
// for minutes wants a hang reported in one, a slow interconnect may want more.
inline constexpr const char* kNcclTimeoutEnv = "FASTVIDEO_NCCL_TIMEOUT_S";
std::chrono::milliseconds nccl_timeout();

// Rank i on GPU devices[i]. NCCL refuses a GPU named twice (its error is passed on, naming the
// devices); a build without NCCL refuses any group.
std::vector<std::unique_ptr<Communicator>> make_nccl_group(
    const std::vector<int>& devices, std::chrono::milliseconds timeout = nccl_timeout());

}  // namespace fastvideo
