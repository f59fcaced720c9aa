// fastvideo backends: every attention backend (DESIGN §4) with its status on this machine and why,
// what each supports, and what selection gives a Wan2.1 transformer here.
#include <cstdio>
#include <memory>

#include "attention/attention_selection.h"
#include "cli/commands.h"
#include "core/env.h"
#include "pipeline/compute_device.h"

namespace fastvideo::cli {

namespace {

struct BackendsFlags {
  std::string device, attention_backend;
};

int run_backends(const BackendsFlags& flags) {
  std::string why_cpu;
  const AttentionDevice device = flags.device.empty()
                                     ? this_machine_attention_device(&why_cpu)
                                     : attention_device_for(parse_compute_device(flags.device));
  if (device.is_gpu()) {
    std::printf("Attention backends on %s\n\n", device.describe().c_str());
  } else {
    std::printf("Attention backends on the CPU: no GPU%s%s\n\n", why_cpu.empty() ? "" : " (",
                why_cpu.empty() ? "" : (why_cpu + ")").c_str());
  }
  const AttentionBackendRegistry& registry = AttentionBackendRegistry::builtin();
  std::printf("%-18s %-21s %s\n", "NAME", "STATUS", "WHY");
  for (const AttentionBackend* b : registry.backends()) {
    const AttentionBackendStatus status = b->status(device);
    std::printf("%-18s %-21s %s\n", std::string(b->name()).c_str(),
                std::string(status.kind_name()).c_str(), status.reason.c_str());
    std::printf("%-18s %-21s supports %s\n", "", "", b->capabilities().describe().c_str());
  }

  // The transformer's attention as a generation on this device would resolve it.
  const AttentionLayerShape wan{128, device.is_gpu() ? DType::BF16 : DType::F32};
  const std::optional<std::string> env = env_string(kAttentionBackendEnv);
  std::printf("\nSelection: --attention-backend > %s%s > automatic (fastest available dense)\n",
              kAttentionBackendEnv, env ? ("=" + *env).c_str() : " (unset)");
  try {
    const AttentionSelection s =
        select_attention_backends(flags.attention_backend, env, device, wan);
    std::printf("Wan2.1 (head_dim 128, %s) here: %s\n", device.is_gpu() ? "bf16" : "f32",
                s.describe().c_str());
  } catch (const Error& e) {
    std::printf("Wan2.1 (head_dim 128) here: error: %s\n", e.what());
  }
  return 0;
}

}  // namespace

Action add_backends_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "backends", "List every attention backend with its status on this machine and why");
  auto flags = std::make_shared<BackendsFlags>();
  cmd->add_option("--device", flags->device,
                  "cpu, cuda or cuda:N (default: this machine's first GPU, else the CPU)");
  cmd->add_option("--attention-backend", flags->attention_backend,
                  "show what selection gives for this name");
  return [flags] { return run_backends(*flags); };
}

}  // namespace fastvideo::cli
