// FastVideo's num_gpus and sp_size (issue 15), checked before any weights load: which GPUs one
// generation runs on, and how many ranks split the transformer's tokens (Ulysses). Errors name the
// setting, its value and what would work.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/device.h"
#include "fastvideo/video_generator.h"

namespace fastvideo {

struct ParallelPlan {
  int sp_size = 1;           // ranks of sequence parallelism; 1: none
  std::vector<int> devices;  // rank r's GPU (empty on the CPU)
  // CFG-parallel (num_gpus = 2 x sp_size): the unconditional pass's GPUs, one per rank; empty:
  // both passes on `devices`.
  std::vector<int> uncond_devices;
};

// `heads`: the transformer's attention heads, which sp_size must divide. `gpu_count`: the GPUs
// this process sees (checked only when more than one is asked for). compile: enable_torch_compile.
ParallelPlan check_parallel_settings(const GeneratorOptions& options, Device device, int64_t heads,
                                     int gpu_count, bool compile);

}  // namespace fastvideo
