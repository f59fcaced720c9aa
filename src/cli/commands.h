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
// `bench attention`, a subcommand of `bench` (bench_attention_command.cpp).
Action add_bench_attention_command(CLI::App& bench);

}  // namespace fastvideo::cli
