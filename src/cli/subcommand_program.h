// The main() of a program made of CLI11 subcommands (`fastvideo`, `fastvideo-bench`): each
// subcommand registers itself and returns its action; the one the user named runs, and what it
// throws becomes a message and an exit status: 1 for what the user can fix (a command line CLI11
// cannot parse, a fastvideo::Error, a filesystem error naming the path, running out of host
// memory), 2 for an internal error.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "fastvideo/error.h"

namespace fastvideo::cli {

using Action = std::function<int()>;
using Register = Action (*)(CLI::App&);

inline int run_subcommand_program(const char* program, const char* description,
                                  std::initializer_list<Register> subcommands, int argc,
                                  char** argv) {
  CLI::App app{description};
  app.require_subcommand(1);
  std::vector<std::pair<CLI::App*, Action>> actions;
  for (Register add : subcommands) {
    const size_t before = app.get_subcommands({}).size();
    Action action = add(app);
    actions.emplace_back(app.get_subcommands({})[before], std::move(action));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // As every other user error, not CLI11's own exit codes (104, 109, ...) and raw message. A
    // first word that names no command gets its own line (CLI11 says only that one is required).
    std::string names;
    bool known = false;
    for (const auto& [sub, action] : actions) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      known = known || (argc > 1 && sub->check_name(argv[1]));
    }
    if (argc > 1 && !known) {
      std::fprintf(stderr, "%s: error: '%s' is not %s; the commands are %s\n", program, argv[1],
                   argv[1][0] == '-' ? "an option here (options follow the command)" : "a command",
                   names.c_str());
      return 1;
    }
    std::fprintf(stderr, "%s: error: %s (--help lists the options)\n", program, e.what());
    return 1;
  }
  try {
    for (auto& [sub, action] : actions) {
      if (sub->parsed()) return action();
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // It names the path(s) and the system's reason: a user-facing error, not an internal one.
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "%s: error: out of host memory (the request needs more than this machine has; "
                 "a smaller size or fewer frames would fit)\n",
                 program);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: internal error: %s\n", program, e.what());
    return 2;
  }
  return 0;
}

}  // namespace fastvideo::cli
