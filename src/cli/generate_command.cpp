// fastvideo generate: flags of DESIGN §7, --config run.yaml, dotted overrides, --log-json.
#include <unistd.h>

#include <fstream>

#include "commands.h"
#include "fastvideo/log.h"
#include "fastvideo/run_config.h"
#include "fastvideo/video_generator.h"
#include "progress_bar.h"
#include "random_checkpoint/random_checkpoint.h"

namespace fastvideo::cli {

namespace {

struct GenerateFlags {
  std::string config_path, model, prompt, negative_prompt, output, attention_backend, scheduler,
      log_json, device, text_encoder_precision;
  std::optional<uint64_t> seed;
  std::optional<int> num_frames, height, width, steps;
  std::optional<double> guidance, flow_shift, fps;
  bool overwrite = false, keep_text_encoder = false;
};

// fastvideo.md §1.1: the file name is the sanitized first 100 characters of the prompt.
std::string file_name_for_prompt(const std::string& prompt) {
  std::string name;
  for (unsigned char c : prompt.substr(0, 100)) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.')
      name += char(c);
    else if (c == ' ')
      name += '_';
  }
  while (!name.empty() && name.front() == '.') name.erase(0, 1);
  return name.empty() ? "video" : name;
}

// A folder (existing, or written with a trailing slash) gets an auto-named MP4 inside it, with
// _1, _2 … on collision; any other path is the output itself.
std::filesystem::path resolve_output(const std::filesystem::path& out, const std::string& prompt) {
  const std::string s = out.string();
  const bool folder = std::filesystem::is_directory(out) || (!s.empty() && s.back() == '/');
  if (!folder) return out;
  std::filesystem::create_directories(out);
  const std::string base = file_name_for_prompt(prompt);
  std::filesystem::path candidate = out / (base + ".mp4");
  for (int i = 1; std::filesystem::exists(candidate); ++i) {
    candidate = out / (base + "_" + std::to_string(i) + ".mp4");
  }
  return candidate;
}

void write_text_atomically(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp);
    out << text << "\n";
    if (!out) {
      std::filesystem::remove(tmp);
      fail(path.string(), ": cannot write the JSON log");
    }
  }
  std::filesystem::rename(tmp, path);
}

int run_generate(const GenerateFlags& f, const std::vector<std::string>& extras) {
  RunConfig config;
  if (!f.config_path.empty()) apply_config_file(f.config_path, config);
  // Dotted overrides: --request.sampling.seed 42 or --request.sampling.seed=42.
  for (size_t i = 0; i < extras.size(); ++i) {
    std::string key = extras[i];
    FV_CHECK(key.rfind("--", 0) == 0 && key.find('.') != std::string::npos, "unexpected argument '",
             key, "' (dotted overrides look like --request.sampling.seed 42)");
    key = key.substr(2);
    std::string value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else {
      FV_CHECK(i + 1 < extras.size(), "override --", key, " needs a value");
      value = extras[++i];
    }
    apply_override(key, value, config);
  }
  // Direct flags win over the file.
  if (!f.model.empty()) config.model_path = f.model;
  if (!f.prompt.empty()) config.request.prompt = f.prompt;
  if (!f.negative_prompt.empty()) config.request.negative_prompt = f.negative_prompt;
  if (f.seed) config.request.seed = f.seed;
  if (f.num_frames) config.request.num_frames = f.num_frames;
  if (f.height) config.request.height = f.height;
  if (f.width) config.request.width = f.width;
  if (f.steps) config.request.num_inference_steps = f.steps;
  if (f.guidance) config.request.guidance_scale = f.guidance;
  if (f.flow_shift) config.request.flow_shift = f.flow_shift;
  if (f.fps) config.request.fps = f.fps;
  if (!f.attention_backend.empty()) config.options.attention_backend = f.attention_backend;
  if (!f.scheduler.empty()) config.options.scheduler = f.scheduler;
  if (!f.device.empty()) config.options.device = f.device;
  if (!f.text_encoder_precision.empty())
    config.options.text_encoder_precision = f.text_encoder_precision;
  if (f.keep_text_encoder) config.options.keep_text_encoder = true;
  if (!f.output.empty()) config.output = f.output;
  config.request.overwrite = f.overwrite;
  FV_CHECK(!config.request.prompt.empty(),
           "no prompt: pass --prompt \"...\" or request.prompt in --config");

  const std::filesystem::path model =
      config.model_path ? *config.model_path : ensure_default_tiny_model();
  const std::filesystem::path output = config.output.value_or("outputs/");
  config.request.output_path =
      output.empty() ? output : resolve_output(output, config.request.prompt);

  auto generator = VideoGenerator::from_pretrained(model, config.options);
  generator.set_progress(draw_progress, nullptr);
  GenerationResult result = generator.generate(config.request);

  double total = 0;
  for (auto& s : result.stages) total += s.seconds;
  log::info("generated ", result.frames, " frames of ", result.width, "x", result.height, " in ",
            total, " s", result.output_path.empty() ? "" : " -> " + result.output_path.string());
  if (!f.log_json.empty()) write_text_atomically(f.log_json, result.summary_json());
  if (!result.output_path.empty()) std::printf("%s\n", result.output_path.c_str());
  return 0;
}

}  // namespace

Action add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate a video from a prompt");
  auto f = std::make_shared<GenerateFlags>();
  cmd->add_option("--config", f->config_path, "run.yaml in FastVideo's generator/request schema");
  cmd->add_option("--model", f->model,
                  "diffusers checkpoint folder (default: the tiny test model)");
  cmd->add_option("--prompt", f->prompt, "text prompt");
  cmd->add_option("--negative-prompt", f->negative_prompt, "negative prompt (default: Wan's)");
  cmd->add_option("--seed", f->seed, "noise seed (torch.manual_seed semantics)");
  cmd->add_option("--num-frames", f->num_frames, "frames, 4n+1");
  cmd->add_option("--height", f->height, "height, multiple of 16");
  cmd->add_option("--width", f->width, "width, multiple of 16");
  cmd->add_option("--num-inference-steps", f->steps, "denoising steps");
  cmd->add_option("--guidance-scale", f->guidance, "CFG scale (<= 1: one pass per step)");
  cmd->add_option("--flow-shift", f->flow_shift, "timestep shift");
  cmd->add_option("--fps", f->fps, "frames per second of the output");
  cmd->add_option("--attention-backend", f->attention_backend,
                  "self-attention backend (TORCH_SDPA, FLASH_ATTN, ...; `fastvideo backends` "
                  "lists them); default: FASTVIDEO_ATTENTION_BACKEND, else automatic");
  cmd->add_option("--scheduler", f->scheduler, "flow_unipc (default), checkpoint, euler");
  cmd->add_option("--device", f->device, "cpu (default), cuda or cuda:N");
  cmd->add_option("--text-encoder-precision", f->text_encoder_precision,
                  "UMT5 on a GPU: bf16 (default) or fp32");
  cmd->add_option("--output", f->output,
                  "file (.mp4, .y4m), folder for PNG frames (no extension), or dir/ (auto name)");
  cmd->add_flag("--overwrite", f->overwrite, "replace an existing output");
  cmd->add_flag("--keep-text-encoder", f->keep_text_encoder, "keep UMT5 in memory after encoding");
  cmd->add_option("--log-json", f->log_json, "write per-stage times and peak memory as JSON");
  cmd->allow_extras();
  return [cmd, f] { return run_generate(*f, cmd->remaining()); };
}

}  // namespace fastvideo::cli
