// fastvideo-bench: the engine's benchmarks, one subcommand each (also reachable as
// `fastvideo bench ...`). scripts/gpu-bench.sh runs them beside their PyTorch anchors.
#include "bench_commands.h"
#include "cli/subcommand_program.h"

int main(int argc, char** argv) {
  using namespace fastvideo::bench;
  return fastvideo::cli::run_subcommand_program(
      "fastvideo-bench",
      "fastvideo-bench: benchmarks (not tests), each printing a table with the anchor measured in "
      "the same run",
      {add_cpu_bench, add_gemm_bench, add_attention_bench, add_dit_bench, add_vae_bench,
       add_conv_bench, add_umt5_bench, add_denoise_bench, add_load_bench},
      argc, argv);
}
