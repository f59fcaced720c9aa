// fastvideo: text-to-video from the command line. A thin layer over include/fastvideo.
#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <new>

#include "commands.h"
#include "fastvideo/error.h"

int main(int argc, char** argv) {
  CLI::App app{"fastvideo: text-to-video diffusion (Wan2.1) in C++"};
  app.require_subcommand(1);
  std::map<CLI::App*, fastvideo::cli::Action> actions;
  auto add = [&](auto register_fn) {
    const size_t before = app.get_subcommands({}).size();
    auto action = register_fn(app);
    actions[app.get_subcommands({})[before]] = std::move(action);
  };
  add(fastvideo::cli::add_generate_command);
  add(fastvideo::cli::add_inspect_command);
  add(fastvideo::cli::add_compare_command);
  add(fastvideo::cli::add_make_tiny_model_command);
  add(fastvideo::cli::add_bench_command);
  add(fastvideo::cli::add_backends_command);
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
    std::fprintf(stderr, "fastvideo: error: %s\n", e.what());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // It names the path(s) and the system's reason: a user-facing error, not an internal one.
    std::fprintf(stderr, "fastvideo: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "fastvideo: error: out of host memory (the request needs more than this machine "
                 "has; a smaller size or fewer frames would fit)\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fastvideo: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
