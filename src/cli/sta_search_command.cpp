// fastvideo sta-search: FastVideo's STA mask search on a checkpoint (its STA_searching, then
// STA_tuning): one generation per prompt with SLIDING_TILE_ATTN comparing every candidate window
// with the full window at each step, layer and head, then the mask-strategy JSON that
// FASTVIDEO_ATTENTION_CONFIG hands to SLIDING_TILE_ATTN (fastvideo/sta_search.h).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "fastvideo/error.h"
#include "fastvideo/run_config.h"
#include "fastvideo/sta_search.h"
#include "fastvideo/video_generator.h"
#include "random_checkpoint/random_checkpoint.h"

namespace fastvideo::cli {

namespace {

struct StaSearchFlags {
  std::string model, output, prompt_file, device = "auto";
  std::vector<std::string> prompts;
  std::string candidates = "3,3,3 1,6,10 3,6,1 1,3,3";
  std::optional<int> skip_time_steps;  // FastVideo's default 12, at most the steps run
  bool overwrite = false;
  std::optional<int> height, width, num_frames, num_inference_steps;
  std::optional<uint64_t> seed;
};

// "t,h,w t,h,w ..." -> windows; each a positive number of tiles.
std::vector<StaTiles> parse_candidates(const std::string& text) {
  std::vector<StaTiles> out;
  std::istringstream in(text);
  std::string item;
  while (in >> item) {
    StaTiles w{};
    char c1 = 0, c2 = 0;
    std::istringstream one(item);
    FV_CHECK(one >> w[0] >> c1 >> w[1] >> c2 >> w[2] && c1 == ',' && c2 == ',' &&
                 one.peek() == EOF && w[0] >= 1 && w[1] >= 1 && w[2] >= 1,
             "--candidates: '", item, "' is not a window t,h,w of positive whole numbers of tiles");
    out.push_back(w);
  }
  FV_CHECK(!out.empty(), "--candidates: no windows given (e.g. \"3,3,3 1,6,10\")");
  return out;
}

int run_sta_search(const StaSearchFlags& f) {
  std::vector<std::string> prompts = f.prompts;
  if (!f.prompt_file.empty()) {
    for (std::string& p : read_prompt_file(f.prompt_file)) prompts.push_back(std::move(p));
  }
  FV_CHECK(!prompts.empty(), "sta-search: no prompt (--prompt or --prompt-file)");
  FV_CHECK(!f.output.empty(), "sta-search: --output names the mask-strategy JSON to write");
  GeneratorOptions options;
  options.device = f.device;
  options.attention_backend = "SLIDING_TILE_ATTN";
  options.sta_search_candidates = parse_candidates(f.candidates);
  // What would fail after a search of hours fails now, before it.
  FV_CHECK(f.skip_time_steps.value_or(0) >= 0, "--skip-time-steps ", *f.skip_time_steps,
           " is negative; expected 0 or more steps kept at the full window");
  {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path out = f.output;
    const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
    FV_CHECK(out.has_filename() && !fs::is_directory(out, ec), "--output ", f.output,
             ": is a folder; name the mask-strategy JSON file to write");
    FV_CHECK(fs::is_directory(dir, ec) && ::access(dir.c_str(), W_OK) == 0, "--output ", f.output,
             ": folder ", dir.string(), " does not exist or is not writable");
    FV_CHECK(f.overwrite || !fs::exists(fs::symlink_status(out, ec)), "--output ", f.output,
             " exists; pass --overwrite to replace it");
  }
  const std::filesystem::path model =
      f.model.empty() ? ensure_default_tiny_model() : std::filesystem::path(f.model);
  VideoGenerator generator = VideoGenerator::from_pretrained(model, options);
  const auto request_for = [&f](const std::string& prompt) {
    GenerationRequest r;
    r.prompt = prompt;
    r.seed = f.seed;
    r.height = f.height;
    r.width = f.width;
    r.num_frames = f.num_frames;
    r.num_inference_steps = f.num_inference_steps;
    return r;
  };
  // The step count the search will run (the model's preset unless given), known before it runs:
  // a --skip-time-steps past it is refused, the default 12 is cut to it.
  int skip_time_steps = f.skip_time_steps.value_or(12);
  for (const auto& [key, value] : generator.resolve(request_for(prompts.front()))) {
    if (key != "num_inference_steps") continue;
    const int steps = std::stoi(value);
    FV_CHECK(!f.skip_time_steps || *f.skip_time_steps <= steps, "--skip-time-steps ",
             skip_time_steps, " is more than the ", value, " denoising steps the search runs");
    skip_time_steps = std::min(skip_time_steps, steps);
  }
  std::vector<StaSearchLosses> runs;
  for (const std::string& prompt : prompts) {
    GenerationResult result = generator.generate(request_for(prompt));
    FV_CHECK(result.sta_search.has_value(), "sta-search: the generation recorded no search");
    runs.push_back(std::move(*result.sta_search));
    std::printf("searched: %s\n", prompt.c_str());
  }
  const StaSearchSummary summary = write_sta_mask_strategy(runs, skip_time_steps, f.output);
  std::printf(
      "wrote %s: %d steps x %d layers x %d heads, full window [%d, %d, %d] for the first %d "
      "steps; overall sparsity %.4f\n",
      f.output.c_str(), runs[0].steps, runs[0].layers, runs[0].heads, runs[0].full_window[0],
      runs[0].full_window[1], runs[0].full_window[2], skip_time_steps, summary.sparsity);
  for (const auto& [window, count] : summary.window_counts)
    std::printf("  %-14s %d heads\n", window.c_str(), count);
  return 0;
}

}  // namespace

Action add_sta_search_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sta-search",
      "FastVideo's STA mask search: candidate windows against the full window per step, layer "
      "and head, written as the mask-strategy JSON SLIDING_TILE_ATTN reads "
      "(FASTVIDEO_ATTENTION_CONFIG)");
  auto f = std::make_shared<StaSearchFlags>();
  cmd->add_option("--model", f->model, "diffusers checkpoint folder (default: the tiny model)");
  cmd->add_option("--prompt", f->prompts, "a calibration prompt (repeatable)");
  cmd->add_option("--prompt-file", f->prompt_file, "one calibration prompt per line");
  cmd->add_option("--output", f->output, "the mask-strategy JSON to write")->required();
  cmd->add_flag("--overwrite", f->overwrite, "replace an existing --output");
  cmd->add_option("--candidates", f->candidates,
                  "windows in tiles, \"t,h,w t,h,w ...\" (default \"3,3,3 1,6,10 3,6,1 1,3,3\")");
  cmd->add_option("--skip-time-steps", f->skip_time_steps,
                  "steps kept at the full window (FastVideo's skip_time_steps, default 12 or "
                  "every step when there are fewer)");
  cmd->add_option("--device", f->device, "auto, cpu, cuda or cuda:N");
  cmd->add_option("--height", f->height, "as generate's (default: the model's preset)");
  cmd->add_option("--width", f->width, "as generate's");
  cmd->add_option("--num-frames", f->num_frames, "as generate's");
  cmd->add_option("--num-inference-steps", f->num_inference_steps, "as generate's");
  cmd->add_option("--seed", f->seed, "as generate's")->check(seed_range());
  return [f] { return run_sta_search(*f); };
}

}  // namespace fastvideo::cli
