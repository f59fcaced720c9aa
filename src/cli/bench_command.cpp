// fastvideo bench ...: the benchmarks are their own program, fastvideo-bench (bench/, which reaches
// the engine's internals by design), installed beside this one; this runs it with the arguments
// that follow `bench`, as `git foo` runs git-foo.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.h"
#include "fastvideo/error.h"

namespace fastvideo::cli {

namespace {

std::filesystem::path bench_program() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) fail("fastvideo bench: cannot locate this program (/proc/self/exe): ", ec.message());
  return self.parent_path() / "fastvideo-bench";
}

int run_bench(const std::vector<std::string>& args) {
  const std::filesystem::path program = bench_program();
  FV_CHECK(::access(program.c_str(), X_OK) == 0, "fastvideo bench: ", program.string(),
           " is missing or not executable (build the fastvideo_bench target)");
  std::vector<char*> argv;
  std::string name = program.string();
  argv.push_back(name.data());
  std::vector<std::string> copies(args);
  for (std::string& a : copies) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(program.c_str(), argv.data());
  fail("fastvideo bench: cannot run ", program.string(), ": ", std::strerror(errno));
}

}  // namespace

Action add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench",
                                 "Benchmarks: cpu, gemm, attention, dit, vae, conv, umt5, denoise, "
                                 "load (runs fastvideo-bench)");
  // Everything after `bench`, --help included, belongs to fastvideo-bench.
  cmd->prefix_command();
  cmd->set_help_flag();
  cmd->allow_extras();
  return [cmd] { return run_bench(cmd->remaining()); };
}

}  // namespace fastvideo::cli
