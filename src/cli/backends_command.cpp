// fastvideo backends: every attention backend (DESIGN §4) with its status on this machine and why,
// what each supports, and what selection gives a Wan2.1 transformer here.
#include <cstdio>
#include <memory>

#include "commands.h"
#include "fastvideo/attention_backends.h"

namespace fastvideo::cli {

namespace {

struct BackendsFlags {
  std::string device, attention_backend;
};

int run_backends(const BackendsFlags& flags) {
  const AttentionBackendsOverview o =
      describe_attention_backends(flags.device, flags.attention_backend);
  std::printf("Attention backends on %s\n\n", o.device.c_str());
  std::printf("%-18s %-21s %s\n", "NAME", "STATUS", "WHY");
  for (const AttentionBackendReport& b : o.backends) {
    std::printf("%-18s %-21s %s\n", b.name.c_str(), b.status.c_str(), b.reason.c_str());
    std::printf("%-18s %-21s supports %s\n", "", "", b.supports.c_str());
  }
  std::printf(
      "\nSelection: --attention-backend > FASTVIDEO_ATTENTION_BACKEND (%s) > automatic (fastest "
      "available dense)\n",
      o.environment.c_str());
  std::printf("Wan2.1 (head_dim 128, %s) here: %s\n", o.gpu ? "bf16" : "f32",
              o.wan_selection.c_str());
  // The table is shown either way; a selection asked for that does not resolve is a failure.
  return o.wan_selection.rfind("error: ", 0) == 0 ? 1 : 0;
}

}  // namespace

Action add_backends_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "backends", "List every attention backend with its status on this machine and why");
  auto flags = std::make_shared<BackendsFlags>();
  cmd->add_option("--device", flags->device,
                  "cpu, cuda or cuda:N (default: this machine's first GPU, else the CPU)")
      ->check(non_empty("give cpu, cuda or cuda:N, or leave the flag out"));
  cmd->add_option("--attention-backend", flags->attention_backend,
                  "show what selection gives for this name (exit status 1 when it is refused)")
      ->check(non_empty("name a backend, or leave the flag out"));
  return [flags] { return run_backends(*flags); };
}

}  // namespace fastvideo::cli
