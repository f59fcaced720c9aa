// fastvideo make-tiny-model DIR --seed N: the tiny Wan2.1 checkpoint of docs/tiny-model.md.
#include <cstdio>

#include "cli/commands.h"
#include "models/tiny_model.h"

namespace fastvideo::cli {

Action add_make_tiny_model_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("make-tiny-model",
                                 "Write a tiny Wan2.1 checkpoint in the diffusers layout");
  struct Flags {
    std::string dir;
    uint64_t seed = 0;
    bool overwrite = false;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("DIR", f->dir, "output folder")->required();
  cmd->add_option("--seed", f->seed, "weight seed (same seed, same bytes)");
  cmd->add_flag("--overwrite", f->overwrite, "replace an existing folder");
  return [f] {
    write_tiny_model(f->dir, f->seed, f->overwrite);
    std::printf("%s\n", f->dir.c_str());
    return 0;
  };
}

}  // namespace fastvideo::cli
