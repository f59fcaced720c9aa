// Running the `fastvideo` binary from tests: its path, a run with the output captured, and the
// arguments of a tiny-model generation.
#pragma once

#include <filesystem>
#include <string>

namespace fastvideo::testing {

struct CliRun {
  int status;          // exit status; -1 when it did not exit normally
  std::string output;  // stdout and stderr together
};

// $FASTVIDEO_CLI (set by CTest), else build/fastvideo.
std::string cli();

// `env fastvideo args` through the shell, output captured.
CliRun run(const std::string& args, const std::string& env = "");

// `--prompt '...'` of the fox used throughout.
extern const std::string kPrompt;

// `generate --model MODEL --prompt ... --output OUT`.
std::string generate_args(const std::filesystem::path& model, const std::filesystem::path& out);

// A copy of the tiny model to break on purpose.
std::filesystem::path copy_of_tiny_model(const std::string& name);

// Expects failure with `culprit` in the message and an output folder with no files left in it.
void expect_clean_failure(const CliRun& r, const std::string& culprit,
                          const std::filesystem::path& out_dir);

}  // namespace fastvideo::testing
