// The group for ranks on the given devices (issue 15): NCCL where they are GPUs, one a rank; shared
// memory between threads where they are the CPU (FASTVIDEO_CPU_RANKS).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "parallel/communicator.h"

namespace fastvideo {

// Rank i on devices[i]: all GPUs or all the CPU. timeout_seconds: how long a collective between
// GPUs may take (dist_timeout; unset: nccl_timeout()).
std::vector<std::unique_ptr<Communicator>> make_rank_group(
    const std::vector<Device>& devices, std::optional<int> timeout_seconds = std::nullopt);

// How logs name the ranks: "2 GPUs (cuda:0 to cuda:1)", "cuda:2" or "2 CPU threads".
std::string describe_ranks(const std::vector<Device>& devices);

}  // namespace fastvideo
