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
  int sp_size = 1;              // ranks of sequence parallelism; 1: none
  bool sharded = false;         // use_fsdp_inference: each rank keeps its piece of every block
  std::vector<Device> devices;  // rank r's device (empty on the CPU without cpu_ranks)
  // CFG-parallel (num_gpus = 2 x sp_size): the unconditional pass's devices, one per rank; empty:
  // both passes on `devices`.
  std::vector<Device> uncond_devices;
};

// What the settings are checked against.
struct ParallelContext {
  int64_t heads = 0;     // the transformer's attention heads, which sp_size must divide
  int gpu_count = 0;     // the GPUs this process sees (read only when several are asked for)
  bool compile = false;  // enable_torch_compile
  bool runs_cfg = true;  // the pipeline has unconditional passes (FastWan's DMD steps have none)
  bool fp8 = false;      // transformer_quant FP8
  // FASTVIDEO_CPU_RANKS=1: on the CPU device, num_gpus ranks run as threads of this process (each
  // "GPU" a CPU rank), so the several-GPU paths run where there are no GPUs: for tests, no faster.
  bool cpu_ranks = false;
};

// The environment variable that sets ParallelContext::cpu_ranks.
inline constexpr const char* kCpuRanksEnv = "FASTVIDEO_CPU_RANKS";
bool cpu_ranks_from_env();

// use_fsdp_inference is checked too, for any num_gpus (with one GPU its one piece is the whole).
ParallelPlan check_parallel_settings(const GeneratorOptions& options, Device device,
                                     const ParallelContext& context);

}  // namespace fastvideo
