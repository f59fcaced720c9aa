// The benchmarks of `fastvideo-bench` (DESIGN §5: not tests; tables with the anchor measured in
// the same run). They reach the engine's internals by design. Each registers its subcommand and
// returns its action.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace fastvideo::bench {

using Action = std::function<int()>;

Action add_cpu_bench(CLI::App& bench);
Action add_gemm_bench(CLI::App& bench);
Action add_attention_bench(CLI::App& bench);
Action add_dit_bench(CLI::App& bench);
Action add_vae_bench(CLI::App& bench);
Action add_conv_bench(CLI::App& bench);
Action add_umt5_bench(CLI::App& bench);
Action add_denoise_bench(CLI::App& bench);
Action add_load_bench(CLI::App& bench);

}  // namespace fastvideo::bench
