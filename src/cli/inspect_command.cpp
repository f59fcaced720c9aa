// fastvideo inspect MODEL_DIR: components, configs, parameter counts and dtypes, then exit 1 if
// the configs are ones loading refuses; with --check, every tensor against the model and every
// value finite, as loading would find them.
#include <cstdio>

#include "commands.h"
#include "fastvideo/checkpoint_info.h"

namespace fastvideo::cli {

namespace {

std::string human(int64_t n) {
  char buf[32];
  if (n >= 1000000000)
    std::snprintf(buf, sizeof buf, "%.2fB", double(n) / 1e9);
  else if (n >= 1000000)
    std::snprintf(buf, sizeof buf, "%.2fM", double(n) / 1e6);
  else if (n >= 1000)
    std::snprintf(buf, sizeof buf, "%.1fK", double(n) / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

int run_inspect(const std::string& dir, bool check) {
  const CheckpointSummary checkpoint = inspect_checkpoint(dir);
  std::printf("%s: %s\n", dir.c_str(), checkpoint.class_name.c_str());
  for (const ComponentSummary& s : checkpoint.components) {
    std::printf("\n%s (%s): %s parameters (%lld) in %zu file(s)\n", s.name.c_str(),
                s.class_name.c_str(), human(s.parameters).c_str(),
                static_cast<long long>(s.parameters), s.files.size());
    for (auto& [dtype, count] : s.parameters_by_dtype) {
      std::printf("  %-6s %s\n", dtype.c_str(), human(count).c_str());
    }
    std::printf("  config: %s\n", s.config.c_str());
  }
  std::printf("\ntokenizer: SentencePiece, vocab %d\n", checkpoint.tokenizer_vocab_size);
  std::printf("\nscheduler: %s\n", checkpoint.scheduler_config.c_str());
  std::fflush(stdout);
  if (!checkpoint.refused.empty()) {
    std::fprintf(stderr, "fastvideo: %s cannot be loaded by this engine: %s\n", dir.c_str(),
                 checkpoint.refused.c_str());
    return 1;
  }
  if (!check) return 0;
  std::printf("\ncheck: every tensor against the model, every value read once\n");
  std::fflush(stdout);
  check_checkpoint(dir, [](const std::string& component, int64_t values) {
    std::printf("  %s: %s values (%lld), shapes as the model expects, all finite\n",
                component.c_str(), human(values).c_str(), static_cast<long long>(values));
    std::fflush(stdout);
  });
  std::printf("check passed\n");
  return 0;
}

}  // namespace

Action add_inspect_command(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("inspect", "Show a checkpoint's components, configs and parameters");
  auto dir = std::make_shared<std::string>();
  auto check = std::make_shared<bool>(false);
  cmd->add_option("MODEL_DIR", *dir, "diffusers checkpoint folder")->required();
  cmd->add_flag("--check", *check,
                "also check every tensor against the model (names, shapes, dtypes) and every "
                "value finite, reading the whole checkpoint once; exit 1 at the first problem");
  return [dir, check] { return run_inspect(*dir, *check); };
}

}  // namespace fastvideo::cli
