// The `fastvideo` subcommands. Each registers its options on the CLI11 app and returns the action.
// They use the public API (include/fastvideo) only.
#pragma once

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdint>
#include <string>

#include "subcommand_program.h"

namespace fastvideo::cli {

// Refuses an empty value: for an option where "" would otherwise read as "not given" and be
// dropped without a word (`what` says what to give instead).
inline CLI::Validator non_empty(const std::string& what) {
  return CLI::Validator(
      [what](std::string& value) { return value.empty() ? "is empty; " + what : std::string(); },
      "NONEMPTY");
}

// A seed as generate takes one: a whole number in 0 .. 2^64-1, written in decimal. CLI11 alone
// reads "-1" into an unsigned as 2^64-1 and clamps 2^64 to it.
inline CLI::Validator seed_range() {
  return CLI::Validator(
      [](std::string& value) {
        uint64_t seed = 0;
        const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seed);
        return ec == std::errc() && end == value.data() + value.size() && !value.empty()
                   ? std::string()
                   : std::string("is not a whole number in 0 .. 18446744073709551615");
      },
      "SEED");
}

// --enable-torch-compile, as generate and serve both take it.
inline void add_enable_torch_compile_flag(CLI::App& cmd, bool& value) {
  cmd.add_flag("--enable-torch-compile", value,
               "compile mode: the transformer forward captured once per shape into a CUDA graph "
               "and replayed (FastVideo's enable_torch_compile; GPU only; docs/compile.md)");
}

// --transformer-quant, as generate and serve both take it.
inline void add_transformer_quant_option(CLI::App& cmd, std::string& value) {
  cmd.add_option("--transformer-quant", value,
                 "FP8: the transformer blocks' linears in FP8 (E4M3 weights with per-channel "
                 "scales, activations per token; FastVideo's transformer_quant; docs/config.md)")
      ->check(non_empty("give FP8, or leave the flag out for bf16 linears"));
}

Action add_generate_command(CLI::App& app);
Action add_inspect_command(CLI::App& app);
Action add_compare_command(CLI::App& app);
Action add_make_tiny_model_command(CLI::App& app);
Action add_bench_command(CLI::App& app);
Action add_backends_command(CLI::App& app);
Action add_sta_search_command(CLI::App& app);
Action add_serve_command(CLI::App& app);

}  // namespace fastvideo::cli
