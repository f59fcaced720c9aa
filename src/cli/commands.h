// The `fastvideo` subcommands. Each registers its options on the CLI11 app and returns the action.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace fastvideo::cli {

using Action = std::function<int()>;

Action add_generate_command(CLI::App& app);
Action add_inspect_command(CLI::App& app);
Action add_compare_command(CLI::App& app);
Action add_make_tiny_model_command(CLI::App& app);
Action add_bench_command(CLI::App& app);
Action add_backends_command(CLI::App& app);
// GPU benchmarks, each registered by add_bench_command on the `bench` subcommand.
Action add_bench_gemm_command(CLI::App& bench);
Action add_bench_attention_command(CLI::App& bench);
Action add_bench_vae_command(CLI::App& bench);
Action add_bench_dit_command(CLI::App& bench);
Action add_bench_umt5_command(CLI::App& bench);
Action add_bench_denoise_command(CLI::App& bench);
Action add_bench_load_command(CLI::App& bench);

}  // namespace fastvideo::cli
