#include "pipeline/parallel_settings.h"

#include "core/env.h"
#include "fastvideo/error.h"
#include "fastvideo/log.h"
#include "parallel/nccl_group.h"
#include "parallel/ulysses.h"

namespace fastvideo {

bool cpu_ranks_from_env() {
  const std::optional<std::string> value = env_string(kCpuRanksEnv);
  if (!value || value->empty() || *value == "0") return false;
  FV_CHECK(*value == "1", kCpuRanksEnv, "=", *value,
           ": expected 1 (num_gpus ranks as CPU threads) or 0");
  return true;
}

ParallelPlan check_parallel_settings(const GeneratorOptions& options, Device device,
                                     const ParallelContext& context) {
  const int64_t heads = context.heads;
  const int gpu_count = context.gpu_count;
  const int n = options.num_gpus;
  FV_CHECK(n >= 1, "num_gpus ", n, ": expected 1 or more GPUs");
  FV_CHECK(!options.dist_timeout || (*options.dist_timeout >= 1 && *options.dist_timeout <= 86400),
           "dist_timeout ", options.dist_timeout.value_or(0), ": expected seconds from 1 to 86400");
  // FASTVIDEO_NCCL_TIMEOUT_S: checked whether or not a group is made, unless dist_timeout, which
  // takes precedence, is set; then it is named as not used.
  if (const auto env = env_string(kNcclTimeoutEnv); options.dist_timeout && env)
    warn_env_not_used(kNcclTimeoutEnv, *env, str_cat("dist_timeout ", *options.dist_timeout));
  else
    nccl_timeout();
  // "1 to 1" reads as a typo: with one GPU the only size is 1.
  const std::string sizes = n == 1 ? "1" : str_cat("1 to ", n);
  FV_CHECK(options.sp_size >= -1, "sp_size ", options.sp_size, " with num_gpus ", n,
           ": expected -1 (num_gpus) or ", sizes);
  const int sp = options.sp_size == -1 ? n : options.sp_size;
  FV_CHECK(
      sp >= 1 && sp <= n, "sp_size ", options.sp_size, " with num_gpus ", n,
      ": expected -1 (num_gpus) or ", sizes,
      n == 1 && sp > n ? " (sequence parallelism over more GPUs needs num_gpus, --num-gpus)" : "");
  FV_CHECK(sp == n || 2 * sp == n, "num_gpus ", n, " with sp_size ", sp,
           ": expected num_gpus = sp_size (sequence parallelism) or 2 x sp_size (CFG-parallel: "
           "the conditional and unconditional passes on two groups of sp_size GPUs)");
  ParallelPlan plan;
  plan.sp_size = sp;
  plan.sharded = options.use_fsdp_inference;
  if (plan.sharded) {
    FV_CHECK(!device.is_cpu() || context.cpu_ranks, "use_fsdp_inference with the device ",
             device.name(), ": sharded weights live on GPUs (device=cuda, --device cuda)");
    FV_CHECK(!context.compile,
             "use_fsdp_inference and enable_torch_compile do not go together in this version; "
             "turn one off");
    FV_CHECK(!context.fp8,
             "use_fsdp_inference and transformer_quant FP8 do not go together in this version "
             "(the pieces would need FP8 copies made on the host); turn one off");
    FV_CHECK(
        !options.dit_layerwise_offload.value_or(false) && !options.dit_cpu_offload.value_or(false),
        "use_fsdp_inference and dit_layerwise_offload / dit_cpu_offload do not go together: the "
        "blocks are either split across GPUs or streamed from host memory; turn one off");
  }
  if (n == 1) {
    // Sharded weights need their one-rank group, on CPU ranks too.
    if (!device.is_cpu() || plan.sharded) plan.devices = {device};
    if (options.dist_timeout && !plan.sharded)
      log::info("dist_timeout ", *options.dist_timeout,
                " has no effect with num_gpus 1 and no use_fsdp_inference: no NCCL group is made");
    return plan;
  }
  FV_CHECK(!device.is_cpu() || context.cpu_ranks, "num_gpus ", n, " with the device ",
           device.name(), ": several GPUs need a GPU device (device=cuda, --device cuda)");
  FV_CHECK(device.is_cpu() || device.index + n <= gpu_count, "num_gpus ", n, " from ",
           device.name(), " needs GPUs ", device.index, " to ", device.index + n - 1,
           "; this machine has ", gpu_count, " GPU(s)");
  if (sp > 1) check_heads_divide(heads, sp);
  FV_CHECK(sp == n || context.runs_cfg, "num_gpus ", n, " with sp_size ", sp,
           " is CFG-parallel, but this pipeline (FastWan's DMD steps) runs no unconditional pass, "
           "so half the GPUs would idle; set sp_size to num_gpus");
  FV_CHECK(!context.compile, "num_gpus ", n,
           " and enable_torch_compile do not go together in this version; turn one off");
  FV_CHECK(
      !options.dit_layerwise_offload.value_or(false) && !options.dit_cpu_offload.value_or(false),
      "num_gpus ", n,
      " and dit_layerwise_offload / dit_cpu_offload do not go together in this version: each "
      "GPU holds a whole replica of the transformer (or, with use_fsdp_inference, its piece); "
      "turn one off");
  const auto rank_device = [&](int r) {
    return device.is_cpu() ? Device::cpu() : Device::cuda(device.index + r);
  };
  for (int r = 0; r < sp; ++r) plan.devices.push_back(rank_device(r));
  for (int r = sp; r < n; ++r) plan.uncond_devices.push_back(rank_device(r));
  return plan;
}

}  // namespace fastvideo
