// fastvideo-bench: the engine's benchmarks, one subcommand each (also reachable as
// `fastvideo bench ...`). scripts/gpu-bench.sh runs them beside their PyTorch anchors.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <new>
#include <utility>
#include <vector>

#include "bench_commands.h"
#include "fastvideo/error.h"

int main(int argc, char** argv) {
  using namespace fastvideo::bench;
  CLI::App app{
      "fastvideo-bench: benchmarks (not tests), each printing a table with the anchor measured in "
      "the same run"};
  app.require_subcommand(1);
  std::vector<std::pair<CLI::App*, Action>> actions;
  for (auto register_fn : {add_cpu_bench, add_gemm_bench, add_attention_bench, add_dit_bench,
                           add_vae_bench, add_umt5_bench, add_denoise_bench, add_load_bench}) {
    const size_t before = app.get_subcommands({}).size();
    Action action = register_fn(app);
    actions.emplace_back(app.get_subcommands({})[before], std::move(action));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, action] : actions) {
      if (sub->parsed()) return action();
    }
  } catch (const fastvideo::Error& e) {
    std::fprintf(stderr, "fastvideo-bench: error: %s\n", e.what());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // It names the path(s) and the system's reason: a user-facing error, not an internal one.
    std::fprintf(stderr, "fastvideo-bench: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(
        stderr,
        "fastvideo-bench: error: out of host memory (the request needs more than this machine "
        "has; a smaller size or fewer frames would fit)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fastvideo-bench: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
