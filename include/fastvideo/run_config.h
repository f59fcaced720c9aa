// FastVideo's run configuration (fastvideo.md §1.5): the generator/request schema of
// `fastvideo generate --config run.yaml`, dotted overrides (--request.sampling.seed 42) and the
// direct flags, all through one table of keys so a value means the same on every surface. Unknown
// keys, duplicate keys, values of the wrong type or range, and values asking for something this
// engine does not do (tp_size: 2, ...) are errors naming the key.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fastvideo/video_generator.h"

namespace fastvideo {

struct RunConfig {
  std::optional<std::filesystem::path> model_path;  // generator.model_path
  GeneratorOptions options;
  GenerationRequest request;
  std::optional<std::filesystem::path> output_path;  // request.output.output_path
  std::optional<std::string> output_video_name;      // request.output.output_video_name
  bool save_video = true;                            // request.output.save_video
  // output_path follows FastVideo's rule (a path without .mp4 or .y4m is a folder to name videos
  // in) unless it came from `fastvideo generate --output`, whose path is taken as written (a path
  // without an extension is a folder of PNG frames).
  bool output_path_as_written = false;
  // request.inputs.prompt_path: a text file of prompts, one video each (read_prompt_file).
  std::optional<std::filesystem::path> prompt_path;
  // request.prompt given as a list (FastVideo's `prompt: str | list[str]`): one video each, as
  // for a prompt file; request.prompt is then empty. A single prompt leaves it empty.
  std::vector<std::string> prompt_list;
  // generator.engine.compile.dit_kwargs was given (non-empty): it replaces the master keys
  // (compile.mode, ...) for the transformer, whichever comes first in the file. The transformer is
  // the one model whose compile mode reads them, so a master key given beside it (the first one
  // set, kept to name it) would have no effect and is refused.
  bool dit_compile_kwargs = false;
  std::string compile_master_key;

  // Where the videos go (GenerationRequest::output_path): output_path (FastVideo's default
  // "outputs/") joined with output_video_name; empty when save_video is false. With a prompt
  // file or a prompt list, the folder every video is named in (a video file name there is an
  // error).
  std::filesystem::path output() const;
};

// Reads a YAML (or JSON) file into `config`. Errors name the file, the dotted key and the value.
void apply_config_file(const std::filesystem::path& path, RunConfig& config);

// A YAML (or JSON) document of the same schema held in memory (the Python package's from_config and
// request mappings); `origin` prefixes its errors as the file name does for apply_config_file.
void apply_config_text(const std::string& text, const std::string& origin, RunConfig& config);

// The key `dotted_key` sets: itself, or for a name of FastVideo's other layout
// (generator.pipeline.flow_shift) the key it stands for
// (generator.pipeline.experimental.flow_shift).
std::string run_config_key(const std::string& dotted_key);

// A dotted override, e.g. ("request.sampling.seed", "42"): YAML reads the value where it keeps it
// whole (a plain scalar, a quoted string, null or ~, {}); anything else ("a: b", "[x]", text with
// " #", an anchor, a tag, an alias) is taken as the literal string.
void apply_override(const std::string& dotted_key, const std::string& value, RunConfig& config);

// A direct flag's value for a dotted key, taken literally (`--prompt "'x'"` keeps its quotes, an
// empty negative prompt stays empty) and checked as the key's type and range demand.
void apply_setting(const std::string& dotted_key, const std::string& value, RunConfig& config);

// The prompts of a prompt file as FastVideo reads them: UTF-8, one per line, each stripped of
// surrounding whitespace, blank lines skipped. Errors name the file and the line (invalid UTF-8,
// a NUL byte, no prompt at all).
std::vector<std::string> read_prompt_file(const std::filesystem::path& path);

}  // namespace fastvideo
