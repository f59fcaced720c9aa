// fastvideo generate: flags of DESIGN §7, --config run.yaml, dotted overrides, a prompt file
// (request.inputs.prompt_path: one video per line, the model loaded once), --log-json, and a clean
// stop on SIGINT/SIGTERM.
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "commands.h"
#include "fastvideo/json_depth.h"
#include "fastvideo/log.h"
#include "fastvideo/made_folders.h"
#include "fastvideo/run_config.h"
#include "fastvideo/video_generator.h"
#include "progress_bar.h"
#include "random_checkpoint/random_checkpoint.h"
#include "stop_on_signal.h"

namespace fastvideo::cli {

namespace {

// Each value flag sets one key of the run configuration, so it is parsed and checked exactly as
// the same key in a YAML file is (run_config.h).
struct ValueFlag {
  const char* flag;
  const char* key;
  const char* help;
};
constexpr ValueFlag kValueFlags[] = {
    {"--model", "generator.model_path",
     "diffusers checkpoint folder (default: the tiny test model)"},
    {"--prompt", "request.prompt", "text prompt"},
    {"--negative-prompt", "request.negative_prompt",
     "negative prompt (default: Wan's; \"\" for none)"},
    {"--seed", "request.sampling.seed", "noise seed, 0 .. 2^64-1 (torch.manual_seed semantics)"},
    {"--num-frames", "request.sampling.num_frames", "frames, 4n+1"},
    {"--height", "request.sampling.height", "height, multiple of 16"},
    {"--width", "request.sampling.width", "width, multiple of 16"},
    {"--num-inference-steps", "request.sampling.num_inference_steps", "denoising steps"},
    {"--guidance-scale", "request.sampling.guidance_scale", "CFG scale (<= 1: one pass per step)"},
    {"--flow-shift", "generator.pipeline.experimental.flow_shift", "timestep shift"},
    {"--fps", "request.sampling.fps", "frames per second of the output"},
    {"--attention-backend", "generator.pipeline.experimental.attention_backend",
     "self-attention backend (TORCH_SDPA, FLASH_ATTN, ...; `fastvideo backends` lists them); "
     "default: FASTVIDEO_ATTENTION_BACKEND, else automatic"},
    {"--VSA-sparsity", "generator.pipeline.experimental.VSA_sparsity",
     "VIDEO_SPARSE_ATTN sparsity in [0, 1) (default: the model's, 0.8 for FastWan, 0 for Wan2.1); "
     "an error with any other self-attention backend"},
    {"--SLA-topk-ratio", "generator.pipeline.experimental.SLA_topk_ratio",
     "SLA_ATTN's and SAGE_SLA_ATTN's fraction of key blocks attended exactly, in (0, 1] (default "
     "0.1 for SLA_ATTN, 0.5 for SAGE_SLA_ATTN); an error with any other self-attention backend"},
    {"--moba-config-path", "generator.pipeline.experimental.moba_config_path",
     "VMOBA_ATTN's JSON config (FastVideo's moba_config_path); an error with any other "
     "self-attention backend"},
    {"--scheduler", "generator.pipeline.experimental.scheduler",
     "flow_unipc (default), checkpoint, euler"},
    {"--num-gpus", "generator.engine.num_gpus",
     "GPUs for one generation from --device's index on (FastVideo's num_gpus; default 1): the "
     "transformer's tokens split across them, Ulysses over NCCL"},
    {"--sp-size", "generator.engine.parallelism.sp_size",
     "sequence-parallel ranks: -1 (default) for num_gpus"},
    {"--dist-timeout", "generator.engine.parallelism.dist_timeout",
     "seconds a collective between GPUs may take before the run ends as hung, naming the rank "
     "(FastVideo's dist_timeout; default 300, or FASTVIDEO_NCCL_TIMEOUT_S)"},
    {"--use-fsdp-inference", "generator.engine.use_fsdp_inference",
     "true or false (default): each sequence-parallel GPU keeps 1/sp_size of every transformer "
     "block and gathers a block just before it runs (FastVideo's use_fsdp_inference)"},
    {"--device", "generator.engine.device",
     "auto (default: GPU 0 when it is usable, else the CPU), cpu, cuda or cuda:N"},
    {"--text-encoder-precision", "generator.engine.text_encoder_precision",
     "UMT5 on a GPU: bf16 (default) or fp32"},
    {"--dit-layerwise-offload", "generator.engine.offload.dit_layerwise",
     "true, false or auto (default: only when the model does not fit): the transformer blocks' "
     "weights in host memory, streamed to the GPU a block ahead of use"},
    {"--dit-cpu-offload", "generator.engine.offload.dit",
     "true, false or auto: FastVideo's FSDP CPU offload; on one GPU the same block streaming"},
    {"--text-encoder-cpu-offload", "generator.engine.offload.text_encoder",
     "true, false or auto: UMT5's layers streamed from the checkpoint to the GPU one at a time "
     "while encoding"},
    {"--keep-text-encoder", "generator.engine.keep_text_encoder",
     "true, false or auto (default: kept when the memory plan fits it): UMT5 loaded with the model "
     "and kept on the GPU, or loaded for each generation and released after encoding"},
    {"--pin-cpu-memory", "generator.engine.offload.pin_cpu_memory",
     "true (default): offloaded blocks in page-locked host memory; false: streamed from the "
     "checkpoint's files at every use (for RAM smaller than the model)"},
    {"--max-device-memory", "generator.engine.max_device_memory",
     "a hard limit on the GPU memory of this run, e.g. 24GiB (default: none); offload is planned "
     "within it"},
};

struct GenerateFlags {
  std::string config_path, log_json;
  std::optional<std::string> output;
  std::map<std::string, std::optional<std::string>> values;  // by flag
  bool overwrite = false, vae_tiling = false;
  bool enable_torch_compile = false;
  std::string transformer_quant;
  std::optional<std::string> torch_compile_kwargs;  // JSON, as FastVideo's legacy flag takes it
  std::optional<int> vae_tile_size, vae_tile_stride;
};

RunConfig run_config_from(const GenerateFlags& f, const std::vector<std::string>& extras) {
  RunConfig config;
  if (!f.config_path.empty()) apply_config_file(f.config_path, config);
  // A key set twice on the command line is refused, as in a file: which one would win is a guess
  // the user should not have to make. key -> the argument that set it.
  std::map<std::string, std::string> given;
  const auto set_once = [&given](const std::string& key, const std::string& argument) {
    const auto [it, first] = given.emplace(run_config_key(key), argument);
    FV_CHECK(first || it->second != argument, argument, " is given twice; give it once");
    FV_CHECK(first, it->second, " and ", argument, " both set ", key, "; give one of them");
  };
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
    set_once(key, "--" + key);
    apply_override(key, value, config);
  }
  // Direct flags win over the file.
  for (const ValueFlag& flag : kValueFlags) {
    const std::optional<std::string>& value = f.values.at(flag.flag);
    if (!value) continue;
    set_once(flag.key, flag.flag);
    try {
      apply_setting(flag.key, *value, config);
    } catch (const Error& e) {
      e.rethrow_with_context(flag.flag);
    }
  }
  if (f.output) {  // the whole output: this path, as written
    set_once("request.output.output_path", "--output");
    FV_CHECK(!f.output->empty(), "--output is empty; name a file or a folder");
    // Not a PNG folder named "-" (QA audit), and not standard output, which the writers lack.
    FV_CHECK(*f.output != "-",
             "--output -: writing the video to standard output is not supported; name a file "
             "(.mp4, .y4m) or a folder");
    // What --output would override is refused rather than dropped without a word.
    if (config.output_video_name) {
      fail("--output ", *f.output,
           " is the whole output path, so request.output.output_video_name '",
           *config.output_video_name, "' would go unused; put the name in --output (",
           (std::filesystem::path(*f.output) / *config.output_video_name).string(),
           ") or leave one of them out");
    }
    FV_CHECK(config.save_video, "request.output.save_video is false (no file), but --output ",
             *f.output, " names one; leave one of them out");
    config.output_path = *f.output;
    config.output_path_as_written = true;
  }
  // The switches with a run-config key conflict with a dotted override of it like any flag.
  const std::pair<bool, std::pair<const char*, const char*>> switches[] = {
      {f.overwrite, {"request.output.overwrite", "--overwrite"}},
      {f.vae_tiling, {"generator.pipeline.vae_tiling", "--vae-tiling"}},
      {f.enable_torch_compile, {"generator.engine.compile.enabled", "--enable-torch-compile"}},
      {!f.transformer_quant.empty(),
       {"generator.engine.quantization.transformer_quant", "--transformer-quant"}},
      {f.torch_compile_kwargs.has_value(),
       {"generator.engine.compile.dit_kwargs", "--torch-compile-kwargs"}}};
  for (const auto& [given_here, names] : switches)
    if (given_here) set_once(names.first, names.second);
  if (f.overwrite) config.request.overwrite = true;
  if (f.vae_tiling) config.options.vae_tiling = true;
  if (f.vae_tile_size) config.options.vae_tile_size = f.vae_tile_size;
  if (f.vae_tile_stride) config.options.vae_tile_stride = f.vae_tile_stride;
  if (f.enable_torch_compile) config.options.enable_torch_compile = true;
  if (!f.transformer_quant.empty()) config.options.transformer_quant = f.transformer_quant;
  if (f.torch_compile_kwargs) {
    // Parsed as one JSON object first, so the text can only ever be dit_kwargs' value; JSON is
    // YAML's flow syntax, so the object goes where that value would in a config file.
    const nlohmann::json kwargs =
        json_too_deep_at(*f.torch_compile_kwargs) >= 0
            ? nlohmann::json()
            : nlohmann::json::parse(*f.torch_compile_kwargs, nullptr, /*allow_exceptions=*/false);
    const std::string& text = *f.torch_compile_kwargs;
    FV_CHECK(kwargs.is_object(), "--torch-compile-kwargs '", text.substr(0, 80),
             text.size() > 80 ? str_cat("...' (", text.size(), " bytes)") : "'",
             ": expected one JSON object, nested at most ", kMaxJsonDepth,
             " deep, e.g. '{\"mode\": \"reduce-overhead\"}'");
    apply_config_text(
        nlohmann::json{{"generator", {{"engine", {{"compile", {{"dit_kwargs", kwargs}}}}}}}}.dump(),
        "--torch-compile-kwargs", config);
  }
  return config;
}

// Whether `a` and `b` name the same file, through links and `..` too, whether it exists or not.
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ec_a, ec_b;
  if (std::filesystem::equivalent(a, b, ec_a)) return true;
  const auto full_a = std::filesystem::weakly_canonical(a, ec_a);
  const auto full_b = std::filesystem::weakly_canonical(b, ec_b);
  return !ec_a && !ec_b && full_a == full_b;
}

// Whether `path` is `output` or inside it (a folder of PNG frames).
bool within(const std::filesystem::path& path, const std::filesystem::path& output) {
  for (std::filesystem::path p = path; p.has_relative_path(); p = p.parent_path()) {
    if (same_file(p, output)) return true;
  }
  return false;
}

const char* file_kind(const std::filesystem::file_status& status) {
  switch (status.type()) {
    case std::filesystem::file_type::symlink:
      return "a symbolic link";
    case std::filesystem::file_type::fifo:
      return "a FIFO";
    case std::filesystem::file_type::character:
      return "a character device";
    case std::filesystem::file_type::block:
      return "a block device";
    case std::filesystem::file_type::socket:
      return "a socket";
    default:
      return "not a regular file";
  }
}

// What --log-json may replace: nothing, or a regular file with --overwrite. The log is renamed
// into place, which would put a regular file where a link, a FIFO or a device node was.
void check_log_target(const std::filesystem::path& path, bool overwrite) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::symlink_status(path, ec);
  if (!std::filesystem::exists(status)) return;
  FV_CHECK(std::filesystem::is_regular_file(status), path.string(), ": is ", file_kind(status),
           "; --log-json writes a regular file in its place, so name a new file");
  FV_CHECK(overwrite, path.string(), " exists; pass --overwrite to replace it");
}

// --log-json's file, checked before any work: not a folder, not the video's output, nothing it
// may not replace (check_log_target), in a folder that is writable, or that can be made (it is
// made when the log is written: made now, it would change what --output names).
void check_log_path(const std::filesystem::path& path, const std::filesystem::path& output,
                    bool overwrite) {
  std::error_code ec;
  FV_CHECK(!std::filesystem::is_directory(path, ec), path.string(),
           ": is a folder; --log-json expects a file name");
  FV_CHECK(output.empty() || !same_file(path, output), path.string(),
           ": is the video's output; give --log-json another file");
  const std::filesystem::path frames = frame_folder_written_for(output);
  FV_CHECK(frames.empty() || !within(path, frames), path.string(), ": is inside ", frames.string(),
           ", the folder of PNG frames this run writes (and replaces whole); give --log-json a "
           "file elsewhere");
  const std::filesystem::path beside = metadata_file_beside(output);
  FV_CHECK(beside.empty() || !same_file(path, beside), path.string(),
           ": is the name of the video's metadata file (beside a .y4m); give --log-json another "
           "file");
  // Into a folder the videos are named in from their prompts, a video's name may turn out to be
  // the log's; known only once the video is made, so any video name there is refused now.
  std::string extension = path.extension().string();
  for (char& c : extension) c = char(std::tolower(static_cast<unsigned char>(c)));
  // "d/", and also d when it exists (QA audit: --output d --log-json d/fox.mp4 made the video, then
  // found the log's name taken).
  const bool named_folder = output_is_a_folder_to_name_in(output);
  FV_CHECK(!named_folder || (extension != ".mp4" && extension != ".y4m") ||
               !same_file(path.has_parent_path() ? path.parent_path() : ".", output),
           path.string(), ": a video's name in ", output.string(),
           ", where the videos are named from their prompts; give --log-json a .json name or "
           "another folder");
  check_log_target(path, overwrite);
  std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  while (!std::filesystem::exists(dir, ec) && dir.has_parent_path() && dir.parent_path() != dir)
    dir = dir.parent_path();  // the folder the missing ones will be made in
  FV_CHECK(std::filesystem::is_directory(dir, ec), path.string(), ": ", dir.string(),
           " is not a folder");
  // A file made and removed, not access(W_OK), which root passes in /proc (QA re-run: the video
  // was made, then the log failed).
  const std::string why = why_no_new_files(dir);
  FV_CHECK(why.empty(), path.string(), ": folder ", dir.string(), " takes no new files (", why,
           ")");
}

// Writes `text` to a temporary created exclusively next to `path` (O_EXCL: no other run can own
// it), then renames it into place: over nothing unless `overwrite`, and never over or into a video
// this run wrote (a name made from the prompt could be the log's).
void write_log(const std::filesystem::path& path, const std::string& text, bool overwrite,
               const std::vector<std::filesystem::path>& videos) {
  for (const std::filesystem::path& video : videos) {
    FV_CHECK(!within(path, video), path.string(), ": is the video just written (", video.string(),
             "); the JSON log was not written");
  }
  check_log_target(path, overwrite);
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  // Created exclusively (no other run can own it) with mode 0666, so the umask applies as to any
  // file the user writes; mkstemp would have made it 0600.
  std::string tmp;
  int fd = -1;
  std::mt19937_64 names(std::random_device{}());
  for (int attempt = 0; fd < 0 && attempt < 100; ++attempt) {
    tmp = (dir / str_cat(".fastvideo-log-", ::getpid(), "-", names() % 1000000007)).string();
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  FV_CHECK(fd >= 0, path.string(), ": cannot write the JSON log: ", std::strerror(errno));
  const std::string bytes = text + "\n";
  const bool written = ::write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size());
  const int write_error = errno;
  const bool closed = ::close(fd) == 0;
  std::error_code ec;
  if (!written || !closed) {
    const int error = !written ? write_error : errno;
    std::filesystem::remove(tmp, ec);
    fail(path.string(), ": cannot write the JSON log: ",
         !written && error == 0 ? "short write" : std::strerror(error));
  }
  const int renamed =
      ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), overwrite ? 0 : RENAME_NOREPLACE);
  if (renamed != 0) {
    const int error = errno;
    std::filesystem::remove(tmp, ec);
    FV_CHECK(error != EEXIST, path.string(),
             " appeared while the video was being made; it was not replaced (pass --overwrite to "
             "replace it)");
    fail(path.string(), ": cannot write the JSON log: ", std::strerror(error));
  }
}

std::string first_characters(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}

int run_generate(const GenerateFlags& f, const std::vector<std::string>& extras) {
  StopOnSignal stop;
  RunConfig config = run_config_from(f, extras);
  std::vector<std::string> prompts;
  const std::filesystem::path output = config.output();
  if (config.prompt_path) {
    FV_CHECK(config.request.prompt.empty() && config.prompt_list.empty(),
             "request.prompt (or --prompt) and request.inputs.prompt_path are both set; give one "
             "of them");
    prompts = read_prompt_file(*config.prompt_path);
    log::info("found ", prompts.size(), " prompts in ", config.prompt_path->string());
  } else if (!config.prompt_list.empty()) {
    prompts = config.prompt_list;
  } else {
    FV_CHECK(!config.request.prompt.empty(),
             "no prompt: pass --prompt \"...\", request.prompt or request.inputs.prompt_path in "
             "--config");
    prompts = {config.request.prompt};
  }
  if (!f.log_json.empty()) check_log_path(f.log_json, output, config.request.overwrite);

  const std::filesystem::path model =
      config.model_path ? *config.model_path : ensure_default_tiny_model();
  GeneratorOptions options = config.options;
  options.stop_requested = [&stop] { return stop.signal() != 0; };
  std::optional<VideoGenerator> generator;
  try {
    if (!stop.signal()) generator.emplace(VideoGenerator::from_pretrained(model, options));
  } catch (const Cancelled&) {
    if (!stop.signal()) throw;  // said below as a stop before generating
  }
  stop.watch(generator ? &*generator : nullptr);
  struct Unwatch {
    StopOnSignal& stop;
    ~Unwatch() { stop.watch(nullptr); }
  } unwatch{stop};
  if (stop.signal()) {
    std::fprintf(stderr, "fastvideo: stopped by %s before generating; nothing written\n",
                 stop.signal_name());
    return 128 + stop.signal();
  }
  generator->set_progress(draw_progress, nullptr);

  std::vector<std::string> summaries;
  std::vector<std::filesystem::path> videos;
  // The JSON log of the videos made: at the end, and when a later one of a batch stops or fails,
  // so that the finished ones keep their records (QA audit: a stop at video 5 of 1000 lost all).
  const auto write_json_log = [&] {
    if (f.log_json.empty() || summaries.empty()) return;
    // The loading's cost heads the first video's record: it was paid once, before it.
    const StageReport& load = generator->load_report();
    nlohmann::ordered_json first = {{"load",
                                     {{"seconds", load.seconds},
                                      {"peak_bytes", load.peak_bytes},
                                      {"peak_device_bytes", load.peak_device_bytes}}}};
    const nlohmann::ordered_json video = nlohmann::ordered_json::parse(summaries.front());
    for (const auto& [key, value] : video.items()) first[key] = value;
    summaries.front() = first.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string text = summaries.front();
    if (prompts.size() > 1) {
      text = "[\n";
      for (size_t i = 0; i < summaries.size(); ++i) text += (i ? ",\n" : "") + summaries[i];
      text += "\n]";
    }
    // A missing folder is made as the video's is (QA audit: --log-json outputs/run.json was
    // refused where the run itself makes outputs/).
    const std::filesystem::path log = f.log_json;
    std::error_code ec;
    MadeFolders log_folder;
    if (log.has_parent_path() && !std::filesystem::exists(log.parent_path(), ec))
      log_folder = MadeFolders(log.parent_path(), log);
    write_log(log, text, config.request.overwrite, videos);
    log_folder.keep();
  };
  const auto write_partial_json_log = [&] {
    if (f.log_json.empty() || summaries.empty()) return;
    try {
      write_json_log();
      log::info(f.log_json, " holds the ", summaries.size(), " videos written");
    } catch (const Error& e) {
      log::warning("the JSON log of the videos written was not written: ", e.what());
    }
  };
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::string video = str_cat("video ", i + 1, "/", prompts.size());
    if (prompts.size() > 1) log::info(video, ": ", first_characters(prompts[i], 100));
    GenerationRequest request = config.request;
    request.prompt = prompts[i];
    request.output_path = output;
    GenerationResult result;
    try {
      result = generator->generate(request);
    } catch (const Cancelled& e) {
      std::fprintf(stderr, "fastvideo: %s, on %s; %zu of %zu videos written, nothing of this one\n",
                   e.what(), stop.signal_name(), i, prompts.size());
      write_partial_json_log();
      return 128 + stop.signal();
    } catch (const Error&) {
      if (i > 0) log::error(i, " of ", prompts.size(), " videos were written before this one");
      write_partial_json_log();
      throw;
    }
    double total = 0;
    for (auto& s : result.stages) total += s.seconds;
    log::info(prompts.size() > 1 ? video + ": " : "", "generated ", result.frames, " frames of ",
              result.width, "x", result.height, " in ", total, " s",
              result.output_path.empty() ? "" : " -> " + result.output_path.string());
    summaries.push_back(result.summary_json());
    if (!result.output_path.empty()) {
      videos.push_back(result.output_path);
      if (auto beside = metadata_file_beside(result.output_path); !beside.empty())
        videos.push_back(beside);
    }
    if (!result.output_path.empty()) std::printf("%s\n", result.output_path.c_str());
    std::fflush(stdout);
  }
  write_json_log();
  return 0;
}

}  // namespace

Action add_generate_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate a video from a prompt");
  auto f = std::make_shared<GenerateFlags>();
  for (const ValueFlag& flag : kValueFlags) {
    CLI::Option* option = cmd->add_option(flag.flag, f->values[flag.flag], flag.help);
    if (std::string_view(flag.flag) == "--attention-backend")
      option->check(non_empty("name a backend (`fastvideo backends`), or leave the flag out"));
  }
  cmd->add_option(
      "--output", f->output,
      "file (.mp4, .y4m), new folder for PNG frames (no extension), or dir/ or an existing "
      "folder (named from the prompt); default outputs/");
  cmd->add_option("--config", f->config_path, "run.yaml in FastVideo's generator/request schema")
      ->check(non_empty("name a run file, or leave the flag out"));
  cmd->add_flag("--overwrite", f->overwrite, "replace an existing output");
  cmd->add_flag("--vae-tiling", f->vae_tiling,
                "decode in overlapping spatial tiles (FastVideo's vae_tiling; diffusers' tiling)");
  cmd->add_option("--vae-tile-size", f->vae_tile_size,
                  "tile size in pixels with --vae-tiling (256)");
  cmd->add_option("--vae-tile-stride", f->vae_tile_stride,
                  "tile stride in pixels with --vae-tiling (192)");
  add_enable_torch_compile_flag(*cmd, f->enable_torch_compile);
  add_transformer_quant_option(*cmd, f->transformer_quant);
  cmd->add_option("--torch-compile-kwargs", f->torch_compile_kwargs,
                  "JSON object of torch.compile keywords for compile mode, e.g. "
                  "'{\"mode\": \"reduce-overhead\"}' (mode, backend, fullgraph, dynamic)");
  cmd->add_option("--log-json", f->log_json,
                  "write per-stage times and peak memory as JSON (a list with a prompt file)")
      ->check(non_empty("name the file to write, or leave the flag out"));
  cmd->allow_extras();
  return [cmd, f] { return run_generate(*f, cmd->remaining()); };
}

}  // namespace fastvideo::cli
