#include "parallel/rank_group.h"

#include "fastvideo/error.h"
#include "parallel/nccl_group.h"

namespace fastvideo {

std::vector<std::unique_ptr<Communicator>> make_rank_group(const std::vector<Device>& devices,
                                                           std::optional<int> timeout_seconds) {
  FV_CHECK(!devices.empty(), "a rank group needs at least one device");
  if (devices.front().is_cpu()) {
    for (const Device& d : devices)
      FV_CHECK(d.is_cpu(), "a rank group is all GPUs or all the CPU, got cpu and ", d.name());
    return make_local_group(int(devices.size()));
  }
  std::vector<int> gpus;
  for (const Device& d : devices) {
    FV_CHECK(!d.is_cpu(), "a rank group is all GPUs or all the CPU, got ", devices.front().name(),
             " and cpu");
    gpus.push_back(d.index);
  }
  return make_nccl_group(gpus,
                         timeout_seconds ? std::chrono::seconds(*timeout_seconds) : nccl_timeout());
}

std::string describe_ranks(const std::vector<Device>& devices) {
  const size_t n = devices.size();
  if (n == 0 || devices.front().is_cpu())
    return str_cat(n, n == 1 ? " CPU thread" : " CPU threads");
  if (n == 1) return devices.front().name();
  return str_cat(n, " GPUs (", devices.front().name(), " to ", devices.back().name(), ")");
}

}  // namespace fastvideo
