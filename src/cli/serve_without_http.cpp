// `fastvideo serve` in a build without cpp-httplib (the GPU machine has no Debian packages beyond
// its own): the subcommand exists and says what is missing, instead of an unknown command.
#include "commands.h"
#include "fastvideo/error.h"

namespace fastvideo::cli {

Action add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve OpenAI's video API (/v1/videos) over HTTP");
  cmd->allow_extras();
  return []() -> int {
    fail(
        "fastvideo serve: this build has no HTTP server (cpp-httplib, Debian's "
        "libcpp-httplib-dev, was not found when it was built); install it and rebuild");
  };
}

}  // namespace fastvideo::cli
