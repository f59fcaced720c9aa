#include "cli_runner.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#include "tiny_model_fixture.h"

namespace fastvideo::testing {

namespace fs = std::filesystem;

std::string cli() {
  const char* env = std::getenv("FASTVIDEO_CLI");
  return env ? env : std::string(FV_BINARY_DIR) + "/fastvideo";
}

CliRun run(const std::string& args, const std::string& env) {
  const std::string cmd = env + " " + cli() + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string kPrompt = "--prompt 'A red fox runs through fresh snow at dawn.'";

std::string generate_args(const fs::path& model, const fs::path& out) {
  return "generate --model " + model.string() + " " + kPrompt + " --output " + out.string();
}

fs::path copy_of_tiny_model(const std::string& name) {
  fs::path dir = temp_dir(name) / "model";
  fs::copy(tiny_model_dir(), dir, fs::copy_options::recursive);
  return dir;
}

void expect_clean_failure(const CliRun& r, const std::string& culprit, const fs::path& out_dir) {
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(culprit), std::string::npos)
      << "message does not name '" << culprit << "':\n"
      << r.output;
  if (fs::exists(out_dir)) {
    for (auto& e : fs::directory_iterator(out_dir)) ADD_FAILURE() << "left behind: " << e.path();
  }
}

}  // namespace fastvideo::testing
