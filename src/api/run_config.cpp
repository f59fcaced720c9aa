#include "fastvideo/run_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/excerpt.h"
#include "core/parse_number.h"
#include "core/utf8.h"
#include "fastvideo/log.h"
#include "fastvideo/video_generator.h"
#include "io/text_file.h"
#include "io/video_writer.h"
#include "pipeline/compile_settings.h"
#include "pipeline/sampling_preset.h"
#include "pipeline/transformer_quant.h"
#include "schedulers/dmd_schedule.h"

namespace fastvideo {

namespace {

// A config value as it is quoted in messages: at most its first 80 characters.
std::string quoted(const std::string& value) { return str_cat("'", excerpt(value), "'"); }

// The tag apply_setting gives a direct flag's value: taken literally, whole numbers in decimal.
constexpr const char* kLiteralTag = "!fastvideo-literal";

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "null";
  if (node.IsScalar()) return quoted(node.Scalar());
  std::ostringstream os;
  os << YAML::Dump(node);
  return quoted(os.str());
}

template <class T>
T scalar(const YAML::Node& node, const std::string& key) {
  // As the HTTP server says it (QA: null read as "expects a single value" where the docs list
  // null among the values an override takes: for this key it is no value at all).
  if (node.IsNull()) {
    fail("key '", key, "' expects a single value, got null (leave the key out for its default)");
  }
  if (!node.IsScalar()) fail("key '", key, "' expects a single value, got ", describe(node));
  if constexpr (std::is_same_v<T, std::string>) {
    // A NUL would cut the value short wherever it is used as a C string (paths, tags).
    const size_t nul = node.Scalar().find('\0');
    FV_CHECK(nul == std::string::npos, "key '", key, "' holds a NUL byte at offset ", nul);
  }
  if constexpr (!std::is_same_v<T, std::string>) {
    // A quoted "12" or "yes" is a string in YAML (and in PyYAML, so in FastVideo), and a tag such
    // as !!float 1024 makes a number of another kind: neither is read as this key's type (QA
    // fuzzing: seed "12" ran as 12, fullgraph "yes" as true).
    const std::string& tag = node.Tag();
    FV_CHECK(tag == "?" || tag.empty() || tag == kLiteralTag, "key '", key, "' has value ",
             quoted(node.Scalar()),
             tag == "!" ? ", written as a string (quoted, or a | or > block)" : ", tagged " + tag,
             "; write ", std::is_same_v<T, bool> ? "true or false" : "the number",
             " without quotes or tags");
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // 010 is 8 to yaml-cpp and PyYAML (YAML 1.1 octal) but 10 to --seed and to Python's int();
    // 0x10 is 16 to YAML and an error to --seed. One number must not mean two: plain decimal only.
    const std::string& text = node.Scalar();
    const size_t digits = text.find_first_not_of("+-");
    const bool radix_form = digits != std::string::npos && digits + 1 < text.size() &&
                            text[digits] == '0' &&
                            std::strchr("0123456789xXoObB", text[digits + 1]) != nullptr;
    FV_CHECK(node.Tag() == kLiteralTag || !radix_form, "key '", key, "' has value ", quoted(text),
             ": a leading 0 (octal in YAML 1.1) or 0x / 0o reads as a different number in YAML, "
             "Python and the command line; write it in plain decimal");
    if (node.Tag() == kLiteralTag) {
      if (auto v = parse_whole<T>(node.Scalar())) return *v;
      fail("key '", key, "' has value ", quoted(node.Scalar()),
           ", which is not a whole number in [", std::numeric_limits<T>::min(), ", ",
           std::numeric_limits<T>::max(), "] written in digits (no decimal point or exponent)");
    }
  }
  try {
    const T value = node.as<T>();
    if constexpr (std::is_floating_point_v<T>) {
      FV_CHECK(std::isfinite(value), "key '", key, "' has value ", quoted(node.Scalar()),
               ", which is not a finite number");
    }
    return value;
  } catch (const YAML::Exception&) {
    if constexpr (std::is_same_v<T, bool>) {
      fail("key '", key, "' has value ", quoted(node.Scalar()), ", which is not true or false");
    } else if constexpr (std::is_integral_v<T>) {
      fail("key '", key, "' has value ", quoted(node.Scalar()),
           ", which is not a whole number in [", std::numeric_limits<T>::min(), ", ",
           std::numeric_limits<T>::max(), "] written in digits (no decimal point or exponent)");
    } else if constexpr (std::is_floating_point_v<T>) {
      fail("key '", key, "' has value ", quoted(node.Scalar()), ", which is not a number");
    } else {
      fail("key '", key, "' has value ", quoted(node.Scalar()), ", which is not a string");
    }
  }
}

// generator.pipeline.experimental.VSA_sparsity: a number in [0, 1) (fastvideo.md §3.1).
double vsa_sparsity(const YAML::Node& node, const std::string& key) {
  const double v = scalar<double>(node, key);
  FV_CHECK(v >= 0.0 && v < 1.0, "key '", key, "' has value ", quoted(node.Scalar()),
           ", which is outside [0, 1) (the fraction of key tiles VIDEO_SPARSE_ATTN skips)");
  return v;
}

// generator.pipeline.experimental.SLA_topk_ratio: a number in (0, 1] (fastvideo.md §4.3; FastVideo
// has no user key for it, so the name is ours, after VSA_sparsity's).
double sla_topk_ratio(const YAML::Node& node, const std::string& key) {
  const double v = scalar<double>(node, key);
  FV_CHECK(v > 0.0 && v <= 1.0, "key '", key, "' has value ", quoted(node.Scalar()),
           ", which is outside (0, 1] (the fraction of key blocks SLA_ATTN attends to exactly)");
  return v;
}

// generator.pipeline.experimental.dmd_denoising_steps: a list of whole numbers, or, as FastVideo's
// --dmd-denoising-steps takes it (and as a dotted override arrives), one string of them separated
// by commas, optionally in brackets ("1000,757,522", "[1000, 757, 522]"). Checked as a DMD
// schedule (schedulers/dmd_schedule.h).
std::vector<int> dmd_denoising_steps(const YAML::Node& node, const std::string& key) {
  std::vector<int> steps;
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      steps.push_back(scalar<int>(node[i], str_cat(key, "[", i, "]")));
    }
  } else {
    std::string text = scalar<std::string>(node, key);
    const size_t first = text.find_first_not_of(" \t");
    const size_t last = text.find_last_not_of(" \t");
    text = first == std::string::npos ? "" : text.substr(first, last - first + 1);
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
      text = text.substr(1, text.size() - 2);
    }
    // getline gives no empty last item: a trailing comma would be dropped unseen.
    FV_CHECK(text.empty() || text.back() != ',', "key '", key, "' has value ",
             quoted(node.Scalar()),
             ", which ends with a comma; expected a list of whole numbers (e.g. [1000, 757, 522])");
    std::stringstream items(text);
    for (std::string item; std::getline(items, item, ',');) {
      const size_t b = item.find_first_not_of(" \t");
      const size_t e = item.find_last_not_of(" \t");
      const auto v =
          b == std::string::npos ? std::nullopt : parse_whole<int>(item.substr(b, e - b + 1));
      FV_CHECK(v.has_value(), "key '", key, "' has value ", quoted(node.Scalar()),
               ", which is not a list of whole numbers (e.g. [1000, 757, 522])");
      steps.push_back(*v);
    }
  }
  const std::string bad = invalid_dmd_timesteps(steps);
  FV_CHECK(bad.empty(), "key '", key, "' has value ", format_dmd_timesteps(steps), ": ", bad);
  return steps;
}

using Setter = std::function<void(const YAML::Node&, RunConfig&)>;

bool is_null(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

// transformer_quant, under either of its keys (the engine's, or the experimental one FastVideo's
// keyword lands in): checked_transformer_quant's value, null for none.
void set_transformer_quant(const YAML::Node& node, const std::string& key, RunConfig& c) {
  c.options.transformer_quant =
      checked_transformer_quant(is_null(node) ? "" : scalar<std::string>(node, key), key);
}

// One torch.compile keyword (mode, backend, fullgraph, dynamic) into torch_compile_kwargs; the
// values are checked here, naming the key, and again with the other options (compile_settings.h).
void set_compile_kwarg(const std::string& prefix, const std::string& name, const YAML::Node& n,
                       GeneratorOptions& o) {
  const std::string key = prefix + name;
  TorchCompileKwargs& k = o.torch_compile_kwargs;
  if (name == "mode" || name == "backend") {
    const std::string value = is_null(n) ? "" : scalar<std::string>(n, key);
    const std::string problem = torch_compile_kwarg_problem(name, value);
    FV_CHECK(problem.empty(), "key '", key, "': ", problem);
    (name == "mode" ? k.mode : k.backend) = value;
  } else if (name == "fullgraph" || name == "dynamic") {
    (name == "fullgraph" ? k.fullgraph : k.dynamic) =
        is_null(n) ? std::nullopt : std::optional<bool>(scalar<bool>(n, key));
  } else {
    fail("key '", key, "': torch.compile keyword '", name,
         "' has no counterpart in this engine's "
         "compile mode (CUDA graphs); it reads mode, backend, fullgraph and dynamic");
  }
}

// The refusal of a master key beside a non-empty dit_kwargs, in whichever order they came.
[[noreturn]] void fail_master_key_beside_dit_kwargs(const std::string& master_key) {
  fail("key '", master_key,
       "' has no effect beside a non-empty 'generator.engine.compile.dit_kwargs', which replaces "
       "the master keys for the transformer, the one model this engine's compile mode reads them "
       "for; move it into dit_kwargs or drop it");
}

// A master key (compile.mode, .backend, .fullgraph, .dynamic): checked always; null leaves it
// unset.
Setter compile_kwarg_setter(const std::string& prefix, const std::string& name) {
  return [prefix, name](const YAML::Node& n, RunConfig& c) {
    GeneratorOptions replaced;  // a null beside dit_kwargs goes here: checked, dit_kwargs' stand
    set_compile_kwarg(prefix, name, n, c.dit_compile_kwargs ? replaced : c.options);
    if (is_null(n)) return;
    if (c.dit_compile_kwargs) fail_master_key_beside_dit_kwargs(prefix + name);
    if (c.compile_master_key.empty()) c.compile_master_key = prefix + name;
  };
}

// A memory switch (offload, keep_text_encoder): true, false, or null / "auto" for the memory
// plan to decide.
std::optional<bool> offload_switch(const YAML::Node& n, const std::string& key) {
  if (is_null(n)) return std::nullopt;
  if (!n.IsScalar()) return scalar<bool>(n, key);  // refused, naming the node
  const std::string& text = n.Scalar();
  if (text == "auto" || text == "Auto" || text == "AUTO") return std::nullopt;  // as YAML's True
  bool value = false;
  const bool plain = n.Tag() == "?" || n.Tag().empty() || n.Tag() == kLiteralTag;
  if (plain && !YAML::convert<bool>::decode(n, value)) {
    fail("key '", key, "' has value ", quoted(text), ", which is not true, false or auto");
  }
  return scalar<bool>(n, key);  // quoted or tagged values are refused there, by name
}

Setter offload_setter(const std::string& key, std::optional<bool> GeneratorOptions::*field) {
  return [key, field](const YAML::Node& n, RunConfig& c) {
    c.options.*field = offload_switch(n, key);
  };
}

// Keys that set something.
const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> table = {
      {"generator.model_path",
       [](auto& n, auto& c) { c.model_path = scalar<std::string>(n, "generator.model_path"); }},
      {"generator.engine.device",
       [](auto& n, auto& c) {
         c.options.device = scalar<std::string>(n, "generator.engine.device");
       }},
      {"generator.engine.text_encoder_precision",
       [](auto& n, auto& c) {
         c.options.text_encoder_precision =
             scalar<std::string>(n, "generator.engine.text_encoder_precision");
       }},
      {"generator.engine.keep_text_encoder",
       offload_setter("generator.engine.keep_text_encoder", &GeneratorOptions::keep_text_encoder)},
      {"generator.engine.offload.dit_layerwise",
       offload_setter("generator.engine.offload.dit_layerwise",
                      &GeneratorOptions::dit_layerwise_offload)},
      {"generator.engine.offload.dit",
       offload_setter("generator.engine.offload.dit", &GeneratorOptions::dit_cpu_offload)},
      {"generator.engine.offload.text_encoder",
       offload_setter("generator.engine.offload.text_encoder",
                      &GeneratorOptions::text_encoder_cpu_offload)},
      {"generator.engine.offload.pin_cpu_memory",
       [](auto& n, auto& c) {
         c.options.pin_cpu_memory = scalar<bool>(n, "generator.engine.offload.pin_cpu_memory");
       }},
      {"generator.engine.max_device_memory",
       [](auto& n, auto& c) {
         const std::string key = "generator.engine.max_device_memory";
         if (is_null(n)) {
           c.options.max_device_memory = 0;
           return;
         }
         const std::string text = scalar<std::string>(n, key);
         const std::optional<int64_t> bytes = parse_byte_size(text);
         FV_CHECK(bytes, "key '", key, "' has value '", text,
                  "'; expected a memory size such as 24GiB, 7.5G or 8000MB (or bytes), 0 for no "
                  "limit");
         c.options.max_device_memory = *bytes;
       }},
      {"generator.engine.quantization.transformer_quant",
       [](auto& n, auto& c) {
         set_transformer_quant(n, "generator.engine.quantization.transformer_quant", c);
       }},
      {"generator.engine.num_gpus",
       [](auto& n, auto& c) {
         const int64_t v = scalar<int64_t>(n, "generator.engine.num_gpus");
         FV_CHECK(v >= 1 && v <= 1024, "key 'generator.engine.num_gpus' has value ", v,
                  "; expected a GPU count from 1 to 1024");
         c.options.num_gpus = int(v);
       }},
      {"generator.engine.parallelism.dist_timeout",
       [](auto& n, auto& c) {
         if (is_null(n)) {
           c.options.dist_timeout.reset();
           return;
         }
         const int64_t v = scalar<int64_t>(n, "generator.engine.parallelism.dist_timeout");
         FV_CHECK(v >= 1 && v <= 86400,
                  "key 'generator.engine.parallelism.dist_timeout' has value ", v,
                  "; expected seconds from 1 to 86400");
         c.options.dist_timeout = int(v);
       }},
      {"generator.engine.use_fsdp_inference",
       [](auto& n, auto& c) {
         c.options.use_fsdp_inference = scalar<bool>(n, "generator.engine.use_fsdp_inference");
       }},
      {"generator.engine.parallelism.sp_size",
       [](auto& n, auto& c) {
         const int64_t v = scalar<int64_t>(n, "generator.engine.parallelism.sp_size");
         FV_CHECK(v == -1 || (v >= 1 && v <= 1024),
                  "key 'generator.engine.parallelism.sp_size' "
                  "has value ",
                  v, "; expected -1 (num_gpus) or a GPU count of 1 or more");
         c.options.sp_size = int(v);
       }},
      {"generator.engine.compile.enabled",
       [](auto& n, auto& c) {
         c.options.enable_torch_compile = scalar<bool>(n, "generator.engine.compile.enabled");
       }},
      // null, FastVideo's CompileConfig default: not compiled, as false.
      {"generator.engine.compile.text_encoder_enabled",
       [](auto& n, auto& c) {
         c.options.compile_text_encoder =
             !is_null(n) && scalar<bool>(n, "generator.engine.compile.text_encoder_enabled");
       }},
      {"generator.engine.compile.vae_enabled",
       [](auto& n, auto& c) {
         c.options.compile_vae =
             !is_null(n) && scalar<bool>(n, "generator.engine.compile.vae_enabled");
       }},
      // torch_compile_kwargs: the master keys, unless dit_kwargs (which replace them for the
      // transformer, the one model compiled here) are given.
      {"generator.engine.compile.mode", compile_kwarg_setter("generator.engine.compile.", "mode")},
      {"generator.engine.compile.backend",
       compile_kwarg_setter("generator.engine.compile.", "backend")},
      {"generator.engine.compile.fullgraph",
       compile_kwarg_setter("generator.engine.compile.", "fullgraph")},
      {"generator.engine.compile.dynamic",
       compile_kwarg_setter("generator.engine.compile.", "dynamic")},
      {"generator.engine.compile.dit_kwargs",
       [](auto& n, auto& c) {
         const std::string key = "generator.engine.compile.dit_kwargs";
         if (is_null(n)) return;
         FV_CHECK(n.IsMap(), "key '", key, "' expects a mapping of torch.compile keywords, got ",
                  describe(n));
         if (n.size() == 0) return;  // empty: the master keys hold
         if (!c.compile_master_key.empty()) fail_master_key_beside_dit_kwargs(c.compile_master_key);
         c.options.torch_compile_kwargs = {};
         c.dit_compile_kwargs = true;
         for (auto it = n.begin(); it != n.end(); ++it) {
           set_compile_kwarg(key + ".", it->first.Scalar(), it->second, c.options);
         }
       }},
      {"generator.pipeline.experimental.moba_config_path",
       [](auto& n, auto& c) {
         const std::string key = "generator.pipeline.experimental.moba_config_path";
         c.options.moba_config_path = is_null(n) ? std::string() : scalar<std::string>(n, key);
         // Empty would read as unset (a helper's audit); null is the way to leave it unset.
         FV_CHECK(is_null(n) || !c.options.moba_config_path.empty(), "key '", key,
                  "' is empty; name VMOBA_ATTN's JSON config file, or leave the key unset");
       }},
      {"generator.pipeline.vae_tiling",
       [](auto& n, auto& c) {
         c.options.vae_tiling = scalar<bool>(n, "generator.pipeline.vae_tiling");
       }},
      // FastVideo's from_kwargs puts vae_tiling under experimental.
      {"generator.pipeline.experimental.vae_tiling",
       [](auto& n, auto& c) {
         c.options.vae_tiling = scalar<bool>(n, "generator.pipeline.experimental.vae_tiling");
       }},
      {"generator.pipeline.experimental.flow_shift",
       [](auto& n, auto& c) {
         // The generator's default for every request: checked now, before the model loads, not
         // at each generation (API audit: from_pretrained(flow_shift=-1) loaded, then every call
         // failed without naming it).
         const char* key = "generator.pipeline.experimental.flow_shift";
         const double shift = scalar<double>(n, key);
         FV_CHECK(shift > 0 && shift <= kMaxFlowShift, "key '", key, "' has value ",
                  quoted(n.Scalar()), ", which is not in (0, ", kMaxFlowShift, "]");
         c.request.flow_shift = shift;
       }},
      {"generator.pipeline.experimental.attention_backend",
       [](auto& n, auto& c) {
         c.options.attention_backend =
             scalar<std::string>(n, "generator.pipeline.experimental.attention_backend");
       }},
      {"generator.pipeline.experimental.transformer_quant",
       [](auto& n, auto& c) {
         set_transformer_quant(n, "generator.pipeline.experimental.transformer_quant", c);
       }},
      {"generator.pipeline.experimental.VSA_sparsity",
       [](auto& n, auto& c) {
         c.options.vsa_sparsity = vsa_sparsity(n, "generator.pipeline.experimental.VSA_sparsity");
       }},
      {"generator.pipeline.experimental.SLA_topk_ratio",
       [](auto& n, auto& c) {
         c.options.sla_topk_ratio =
             sla_topk_ratio(n, "generator.pipeline.experimental.SLA_topk_ratio");
       }},
      {"generator.pipeline.experimental.dmd_denoising_steps",
       [](auto& n, auto& c) {
         c.options.dmd_denoising_steps =
             dmd_denoising_steps(n, "generator.pipeline.experimental.dmd_denoising_steps");
       }},
      {"generator.pipeline.experimental.scheduler",
       [](auto& n, auto& c) {
         const std::string key = "generator.pipeline.experimental.scheduler";
         c.options.scheduler = scalar<std::string>(n, key);
         FV_CHECK(!c.options.scheduler.empty(), "key '", key,
                  "' is empty; expected flow_unipc, checkpoint or euler");
       }},
      {"request.prompt",
       [](auto& n, auto& c) {
         c.prompt_list.clear();
         if (!n.IsSequence()) {
           c.request.prompt = scalar<std::string>(n, "request.prompt");
           return;
         }
         // FastVideo's list of prompts: one video each.
         FV_CHECK(n.size() > 0, "key 'request.prompt' is an empty list; give one prompt or more");
         // Each entry checked here, before loading: an empty one failed only when its turn came,
         // after every video before it (QA audit).
         for (size_t i = 0; i < n.size(); ++i) {
           const std::string key = str_cat("request.prompt[", i, "]");
           c.prompt_list.push_back(scalar<std::string>(n[i], key));
           FV_CHECK(!strip_python_space(c.prompt_list.back()).empty(), "key '", key, "' is ",
                    c.prompt_list.back().empty() ? "empty" : "only whitespace",
                    "; every prompt of the list needs text");
         }
         c.request.prompt.clear();
       }},
      {"request.negative_prompt",
       [](auto& n, auto& c) {
         c.request.negative_prompt = scalar<std::string>(n, "request.negative_prompt");
       }},
      {"request.inputs.prompt_path",
       [](auto& n, auto& c) {
         c.prompt_path = scalar<std::string>(n, "request.inputs.prompt_path");
       }},
      {"request.sampling.seed",
       [](auto& n, auto& c) { c.request.seed = scalar<uint64_t>(n, "request.sampling.seed"); }},
      {"request.sampling.num_frames",
       [](auto& n, auto& c) {
         c.request.num_frames = scalar<int>(n, "request.sampling.num_frames");
       }},
      {"request.sampling.height",
       [](auto& n, auto& c) { c.request.height = scalar<int>(n, "request.sampling.height"); }},
      {"request.sampling.width",
       [](auto& n, auto& c) { c.request.width = scalar<int>(n, "request.sampling.width"); }},
      {"request.sampling.fps",
       [](auto& n, auto& c) { c.request.fps = scalar<double>(n, "request.sampling.fps"); }},
      {"request.sampling.num_inference_steps",
       [](auto& n, auto& c) {
         c.request.num_inference_steps = scalar<int>(n, "request.sampling.num_inference_steps");
       }},
      {"request.sampling.guidance_scale",
       [](auto& n, auto& c) {
         c.request.guidance_scale = scalar<double>(n, "request.sampling.guidance_scale");
       }},
      {"request.sampling.max_sequence_length",
       [](auto& n, auto& c) {
         c.request.max_sequence_length = scalar<int>(n, "request.sampling.max_sequence_length");
       }},
      {"request.sampling.cfg_gate_step",
       [](auto& n, auto& c) {
         c.request.cfg_gate_step = scalar<double>(n, "request.sampling.cfg_gate_step");
       }},
      {"request.output.output_path",
       [](auto& n, auto& c) {
         c.output_path = scalar<std::string>(n, "request.output.output_path");
       }},
      {"request.output.output_video_name",
       [](auto& n, auto& c) {
         c.output_video_name = scalar<std::string>(n, "request.output.output_video_name");
       }},
      {"request.output.save_video",
       [](auto& n, auto& c) { c.save_video = scalar<bool>(n, "request.output.save_video"); }},
      {"request.output.overwrite",
       [](auto& n, auto& c) { c.request.overwrite = scalar<bool>(n, "request.output.overwrite"); }},
  };
  return table;
}

bool is_false(const YAML::Node& n) { return is_null(n) || (n.IsScalar() && !scalar<bool>(n, "?")); }
bool is_empty_map(const YAML::Node& n) { return is_null(n) || (n.IsMap() && n.size() == 0); }
bool is_one(const YAML::Node& n) { return n.IsScalar() && scalar<int64_t>(n, "?") == 1; }
// -1 is FastVideo's "derive it from num_gpus", which is 1 here.
bool is_one_or_auto(const YAML::Node& n) {
  if (!n.IsScalar()) return false;
  const int64_t v = scalar<int64_t>(n, "?");
  return v == 1 || v == -1;
}

// Keys whose only accepted values describe what this engine does anyway: anything else asks for
// something it does not do (yet) and is refused by name, never silently ignored (DESIGN §7).
struct Rule {
  std::function<bool(const YAML::Node&)> accepts;
  const char* expected;  // "false", "1 or -1", ...
  const char* why;       // what a refused value asks for
};

const std::map<std::string, Rule>& rules() {
  static const Rule no_compile_extras{
      is_empty_map, "an empty mapping",
      "this engine's compile mode (CUDA graphs) has no torch.compile options to pass extras to"};
  static const Rule no_component_compile{
      is_empty_map, "an empty mapping",
      "compile mode takes no per-component torch.compile options (text_encoder_enabled compiles "
      "UMT5 and vae_enabled the VAE decoder; see dit_kwargs for the transformer)"};
  static const Rule no_quantization{is_null, "null", "quantized linears are not in this version"};
  static const Rule one_gpu{
      is_one_or_auto, "1 or -1",
      "several GPUs split this way (tensor parallelism, HSDP) are not in this "
      "version; num_gpus with sp_size (sequence parallelism) is"};
  static const Rule no_component{is_null, "null",
                                 "replacing checkpoint components is not in this version"};
  static const Rule no_input{is_null, "null", "this version generates from text only (t2v)"};
  static const Rule no_super_resolution{is_null, "null",
                                        "super-resolution stages are not in this version"};
  static const Rule no_two_experts{is_null, "null",
                                   "Wan2.2's two-expert (MoE) denoising is not in this version"};
  static const Rule no_trajectories{is_false, "false",
                                    "trajectories are not returned by this version"};
  static const Rule no_zero{
      [](const YAML::Node& n) { return is_null(n) || scalar<double>(n, "?") == 0.0; }, "0",
      "guidance rescale is not in this version"};
  static const Rule no_true_cfg{
      [](const YAML::Node& n) { return is_null(n) || scalar<double>(n, "?") == 1.0; }, "1",
      "true CFG (a second guidance scale over the negative prompt) is not in this version; "
      "guidance_scale is the CFG scale"};
  static const std::map<std::string, Rule> table = {
      {"generator.revision",
       {is_null, "null", "this engine loads local checkpoint folders, not hub revisions"}},
      {"generator.engine.execution_backend",
       {[](const YAML::Node& n) { return is_null(n) || scalar<std::string>(n, "?") == "mp"; }, "mp",
        "the ray executor is not part of this engine"}},
      {"generator.engine.parallelism.tp_size", one_gpu},
      {"generator.engine.parallelism.hsdp_replicate_dim", one_gpu},
      {"generator.engine.parallelism.hsdp_shard_dim", one_gpu},
      {"generator.engine.disable_autocast",
       {is_false, "false", "this engine always runs the diffusers bf16 path on a GPU"}},
      {"generator.engine.offload.vae",
       {[](const YAML::Node& n) { return is_null(n) || is_false(n); }, "false",
        "keeping the VAE off the GPU between decodes is not in this version (its weights are "
        "0.25 GB; vae_tiling bounds what decoding needs)"}},
      {"generator.engine.compile.audio_vae_enabled",
       {is_false, "false", "this engine has no audio VAE"}},
      {"generator.engine.compile.extras", no_compile_extras},
      {"generator.engine.compile.text_encoder_kwargs", no_component_compile},
      {"generator.engine.compile.vae_kwargs", no_component_compile},
      {"generator.engine.compile.audio_vae_kwargs", no_component_compile},
      {"generator.engine.quantization.text_encoder_quant", no_quantization},
      {"generator.pipeline.workload_type",
       {[](const YAML::Node& n) { return is_null(n) || scalar<std::string>(n, "?") == "t2v"; },
        "t2v", "this version generates video from text only"}},
      {"generator.pipeline.preset", {is_null, "null", "named presets are not supported"}},
      {"generator.pipeline.preset_version", {is_null, "null", "named presets are not supported"}},
      {"generator.pipeline.preset_overrides",
       {is_empty_map, "an empty mapping", "named presets are not supported"}},
      {"generator.pipeline.components.config_root", no_component},
      {"generator.pipeline.components.pipeline_config_path", no_component},
      {"generator.pipeline.components.text_encoder_weights", no_component},
      {"generator.pipeline.components.transformer_weights", no_component},
      {"generator.pipeline.components.transformer_2_weights", no_component},
      {"generator.pipeline.components.vae_weights", no_component},
      {"generator.pipeline.components.upsampler_weights", no_component},
      {"generator.pipeline.components.lora_path", {is_null, "null", "LoRA is not in this version"}},
      {"generator.pipeline.components.override_pipeline_cls_name", no_component},
      {"generator.pipeline.components.override_transformer_cls_name", no_component},
      {"request.inputs.image_path", no_input},
      {"request.inputs.video_path", no_input},
      {"request.inputs.latents", no_input},
      {"request.sampling.num_videos_per_prompt",
       {is_one, "1", "one video per prompt is what this version makes"}},
      // FastVideo's other sampling keys (fastvideo.md §1.5): their no-op values pass, others are
      // refused by name rather than as unknown keys.
      {"request.sampling.guidance_rescale", no_zero},
      {"request.sampling.true_cfg_scale", no_true_cfg},
      {"request.sampling.batch_cfg",
       {is_null, "null",
        "the engine runs CFG's two passes as one batch where that is faster, by itself; there is "
        "no switch for it"}},
      {"request.sampling.guidance_scale_2", no_two_experts},
      {"request.sampling.boundary_ratio", no_two_experts},
      {"request.sampling.use_embedded_guidance",
       {is_false, "false", "embedded (distilled) guidance is not in this version"}},
      {"request.sampling.cfg_normalization",
       {is_false, "false", "CFG normalization is not in this version"}},
      {"request.sampling.cfg_truncation",
       {is_null, "null", "CFG truncation is not in this version"}},
      {"request.sampling.sigmas",
       {is_null, "null", "custom sigma schedules are not in this version"}},
      {"request.sampling.height_sr", no_super_resolution},
      {"request.sampling.width_sr", no_super_resolution},
      {"request.sampling.num_inference_steps_sr", no_super_resolution},
      {"request.runtime.enable_teacache", {is_false, "false", "TeaCache is not in this version"}},
      {"request.runtime.return_trajectory_latents", no_trajectories},
      {"request.runtime.return_trajectory_decoded", no_trajectories},
      {"request.output.return_state",
       {is_false, "false", "continuation state is not returned by this version"}},
  };
  return table;
}

// FastVideo keys that change nothing this engine does; accepted so its run files work unchanged.
const std::set<std::string>& without_effect() {
  static const std::set<std::string> keys = {
      "generator.trust_remote_code",                 // local folders only
      "generator.engine.enable_stage_verification",  // every stage validates its inputs
      "generator.engine.offload.image_encoder",      // text-to-video has no image encoder
      "request.output.return_frames",                // the result always holds the frames
      // generate_video's embedded_cfg_scale, a pipeline override FastVideo's Wan pipelines do not
      // read (HunyuanVideo's embedded guidance); its similarity tests pass it for Wan too.
      "generator.pipeline.experimental.embedded_cfg_scale",
  };
  return keys;
}

// FastVideo's run files of its other layout (without the experimental section; e.g. its
// scripts/inference/inference_wan_VSA.yaml at ecb15bf) name four keys elsewhere: each is read as
// the key it is in the layout this table follows.
const std::map<std::string, std::string>& other_layout_keys() {
  static const std::map<std::string, std::string> keys = {
      {"generator.pipeline.flow_shift", "generator.pipeline.experimental.flow_shift"},
      {"generator.pipeline.dmd_denoising_steps",
       "generator.pipeline.experimental.dmd_denoising_steps"},
      {"generator.engine.attention.vsa_sparsity", "generator.pipeline.experimental.VSA_sparsity"},
      {"generator.engine.attention.moba_config_path",
       "generator.pipeline.experimental.moba_config_path"},
  };
  return keys;
}

// Keys FastVideo has two places for, both read here for one setting: each is the setting's name
// first listed (so a file giving both is refused as giving it twice).
const std::map<std::string, std::string>& same_setting_keys() {
  static const std::map<std::string, std::string> keys = {
      {"generator.pipeline.experimental.vae_tiling", "generator.pipeline.vae_tiling"},
      {"generator.pipeline.experimental.transformer_quant",
       "generator.engine.quantization.transformer_quant"},
  };
  return keys;
}

std::vector<std::string> known_children(const std::string& prefix) {
  std::set<std::string> names;
  auto add = [&](const std::string& key) {
    if (key.rfind(prefix, 0) != 0) return;
    std::string rest = key.substr(prefix.size());
    names.insert(rest.substr(0, rest.find('.')));
  };
  for (auto& [k, v] : setters()) add(k);
  for (auto& [k, v] : rules()) add(k);
  for (auto& k : without_effect()) add(k);
  for (auto& [k, current] : other_layout_keys()) add(k);
  return {names.begin(), names.end()};
}

[[noreturn]] void unknown_key(const std::string& key) {
  const std::string parent =
      key.find('.') == std::string::npos ? "" : key.substr(0, key.rfind('.') + 1);
  std::string valid;
  for (auto& c : known_children(parent)) valid += (valid.empty() ? "" : ", ") + c;
  fail("unknown key '", excerpt(key), "'",
       valid.empty()
           ? ""
           : str_cat(" (valid keys",
                     parent.empty() ? "" : " under " + parent.substr(0, parent.size() - 1), ": ",
                     valid, ")"));
}

// The keys one source (a run file) has set: key -> as written there. A key may be set once, also
// under another spelling: "sampling.seed" inside request beside sampling: {seed}, or FastVideo's
// other name for it (QA fuzzing: the later one won without a word).
using AppliedKeys = std::map<std::string, std::string>;

void note_applied(const std::string& key, const std::string& written, AppliedKeys* applied) {
  if (!applied) return;
  const std::string setting = run_config_key(key);
  const auto [it, first] = applied->emplace(setting, written);
  FV_CHECK(first, it->second == written
                      ? str_cat("key '", excerpt(written), "' appears twice")
                      : str_cat("keys '", excerpt(it->second), "' and '", excerpt(written),
                                "' both set ", setting, "; give one of them"));
}

void apply_key(const std::string& key, const YAML::Node& node, RunConfig& config,
               AppliedKeys* applied = nullptr, const std::string& written = "") {
  if (auto it = other_layout_keys().find(key); it != other_layout_keys().end()) {
    try {
      apply_key(it->second, node, config, applied, key);
    } catch (const Error& e) {
      fail(key, " (FastVideo's other name for ", it->second, "): ", e.what());
    }
    return;
  }
  const std::string& as_written = written.empty() ? key : written;
  if (auto it = setters().find(key); it != setters().end()) {
    note_applied(key, as_written, applied);
    it->second(node, config);
    return;
  }
  if (auto it = rules().find(key); it != rules().end()) {
    note_applied(key, as_written, applied);
    bool accepted = false;
    bool wrong_type = false;
    try {
      accepted = it->second.accepts(node);
    } catch (const Error&) {
      wrong_type = true;  // a value of the wrong type ("false" for false): said as such
    }
    FV_CHECK(accepted, key, "=", describe(node), ": ", it->second.why, " (expected ",
             it->second.expected, wrong_type ? ", without quotes or tags" : "", ")");
    return;
  }
  if (without_effect().count(key)) {
    note_applied(key, as_written, applied);
    log::info("config key '", key, "' has no effect on this engine; ignored");
    return;
  }
  const bool section = !known_children(key.empty() ? "" : key + ".").empty();
  if (section && is_null(node)) return;  // a section with every key commented out
  if (section && !node.IsMap()) {
    fail("key '", key, "' expects a mapping of keys, got ", describe(node));
  }
  // A mapping under a key that is no section is as unknown as the key (an empty one used to pass).
  if (node.IsMap() && (section || key.empty())) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string child = it->first.Scalar();
      apply_key(key.empty() ? child : key + "." + child, it->second, config, applied);
    }
    return;
  }
  unknown_key(key);
}

// Nothing in a run file nests this deep; an alias that refers back into its own node (`a: &x
// {b: *x}`) nests without end, and a walk of the tree must stop there.
constexpr int kMaxYamlDepth = 64;

void check_depth(int depth) {
  FV_CHECK(depth <= kMaxYamlDepth, "the document nests deeper than ", kMaxYamlDepth,
           " levels (an alias that refers back into its own node?)");
}

// The nodes a walk of the document has seen, by where they start and what they are: an alias is
// the node it names, so each is walked once (QA fuzzing: ten levels of nine aliases each, a 1 KB
// file, walked as 9^10 nodes took about an hour).
class SeenNodes {
 public:
  bool first_visit(const YAML::Node& node) {
    return seen_.emplace(node.Mark().pos, int(node.Type())).second;
  }

 private:
  std::set<std::pair<int, int>> seen_;
};

// A mapping anywhere in the document that holds one key twice (dit_kwargs: {mode: a, mode: b}),
// which yaml-cpp keeps as two entries.
void check_keys_unique(const YAML::Node& node, const std::string& path, SeenNodes& seen_nodes,
                       int depth = 0) {
  check_depth(depth);
  if (!seen_nodes.first_visit(node)) return;
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      check_keys_unique(node[i], str_cat(path, "[", i, "]"), seen_nodes, depth + 1);
    }
  }
  if (!node.IsMap()) return;
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string child = it->first.IsScalar() ? it->first.Scalar() : describe(it->first);
    const std::string at = path.empty() ? child : path + "." + child;
    FV_CHECK(seen.insert(child).second, "key '", excerpt(at), "' appears twice");
    check_keys_unique(it->second, at, seen_nodes, depth + 1);
  }
}

void apply_config_root(const YAML::Node& root, const std::string& origin, RunConfig& config) {
  if (!root.IsMap()) fail(origin, ": expected a mapping with 'generator' and 'request'");
  try {
    SeenNodes seen;
    check_keys_unique(root, "", seen);
    AppliedKeys applied;
    apply_key("", root, config, &applied);
  } catch (const Error& e) {
    e.rethrow_with_context(origin);
  }
}

}  // namespace

std::filesystem::path RunConfig::output() const {
  if (!save_video) {
    // No file is written. FastVideo ignores a path or name given beside it, so its scripts may
    // pass one: taken, but not silently.
    if (output_path || output_video_name) {
      log::warning("request.output.", output_path ? "output_path" : "output_video_name", " '",
                   output_path ? output_path->string() : *output_video_name,
                   "' is not used: request.output.save_video is false, so no file is written");
    }
    return {};
  }
  std::filesystem::path out = output_path.value_or("outputs/");
  FV_CHECK(!out.empty(),
           "request.output.output_path is empty; name a file or folder, or set "
           "request.output.save_video to false for no file");
  if (output_video_name) {
    // A name inside output_path: neither a path that leaves it nor a folder in disguise.
    const std::filesystem::path name(*output_video_name);
    FV_CHECK(!name.empty() && name == name.filename() && name != "." && name != "..",
             "request.output.output_video_name '", *output_video_name,
             "': expected a file name (no folder parts) inside request.output.output_path");
    FV_CHECK(names_a_video_file(name), "request.output.output_video_name '", *output_video_name,
             "': expected a file name such as fox.mp4 (a name, then .mp4 or .y4m)");
    // A path naming a video file is that file (below), not a folder to put this name in (QA:
    // on.mp4/fox.mp4 was made).
    FV_CHECK(!names_a_video_file(out), "request.output.output_path '", out.string(),
             "' names a video file, so request.output.output_video_name '", *output_video_name,
             "' would name one inside it; make output_path a folder or leave out the name");
    out /= name;
  }
  const bool video_file = names_a_video_file(out);
  if (prompt_path || prompt_list.size() > 1) {
    const char* source = prompt_path ? "request.inputs.prompt_path" : "a list of prompts";
    FV_CHECK(!video_file && !output_video_name, out.string(), ": with ", source,
             " each video is named from its prompt, so the output (--output or "
             "request.output.output_path) must be a folder, and output_video_name unset");
    // An earlier run's PNG frames there are an output of their own, which each video would
    // replace: not a folder to name videos in.
    FV_CHECK(frame_folder_written_for(out / "").empty(), out.string(),
             " holds an earlier run's PNG frames, which every video of ", source,
             " would replace; give request.output.output_path a folder to name the videos in");
    return out / "";
  }
  // FastVideo: a path that does not name a video file is a folder to name the video in.
  if (!output_path_as_written && !video_file) return out / "";
  return out;
}

namespace {

// Where the quoted scalar whose opening quote is at text[open] closes; npos when it never does.
size_t closing_quote(std::string_view text, size_t open) {
  const char quote = text[open];
  for (size_t i = open + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;  // an escape: the next character is taken whatever it is
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside single quotes
      } else {
        return i;
      }
    }
  }
  return std::string_view::npos;
}

// yaml-cpp 0.7 reads a quoted string that never closes as running to the end of the text, where
// PyYAML (FastVideo's reader) refuses it (QA fuzzing: 'prompt: "A red fox' took the rest of the
// file, its settings too, into the prompt): every quoted key and value must close. A node's mark
// is where its properties start (&anchor, !tag), so those are stepped over to the quote.
void check_quotes_close(const YAML::Node& node, const std::string& text, const std::string& origin,
                        SeenNodes& seen, int depth = 0) {
  check_depth(depth);
  if (!seen.first_visit(node)) return;
  if (node.IsScalar()) {
    const YAML::Mark mark = node.Mark();
    size_t at = mark.pos < 0 ? text.size() : size_t(mark.pos);
    while (at < text.size() && (text[at] == '&' || text[at] == '!')) {
      at = text.find_first_of(" \t\r\n", at);
      at = at == std::string::npos ? text.size() : text.find_first_not_of(" \t\r\n", at);
      if (at == std::string::npos) at = text.size();
    }
    if (at < text.size() && (text[at] == '"' || text[at] == '\'') &&
        closing_quote(text, at) == std::string_view::npos) {
      fail(origin, ": line ", mark.line + 1, ", column ", mark.column + 1, ": the ",
           text[at] == '"' ? "double" : "single", "-quoted string that starts here never closes");
    }
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) check_quotes_close(item, text, origin, seen, depth + 1);
  } else if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      check_quotes_close(it->first, text, origin, seen, depth + 1);
      check_quotes_close(it->second, text, origin, seen, depth + 1);
    }
  }
}

// A run file is one YAML document: the later ones of a "---"-separated file were silently
// dropped. An empty file is the empty document.
YAML::Node single_document(const std::vector<YAML::Node>& documents, const std::string& origin) {
  FV_CHECK(documents.size() <= 1, origin, ": holds ", documents.size(),
           " YAML documents (separated by ---); a run file is one document");
  return documents.empty() ? YAML::Node() : documents.front();
}

}  // namespace

void apply_config_file(const std::filesystem::path& path, RunConfig& config) {
  std::error_code ec;
  FV_CHECK(!std::filesystem::is_directory(path, ec), path.string(),
           ": is a folder; --config expects a YAML or JSON file");
  apply_config_text(read_text_file(path, "a run file, --config"), path.string(), config);
}

void apply_config_text(const std::string& given, const std::string& origin, RunConfig& config) {
  // Without a UTF-8 byte-order mark, which yaml-cpp skips but does not count in its marks.
  const std::string_view bom = "\xEF\xBB\xBF";
  const std::string text = given.starts_with(bom) ? given.substr(bom.size()) : given;
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    fail(origin, ": malformed YAML: ", e.what());
  }
  try {
    // Marks count UTF-8 bytes: a UTF-16 file (yaml-cpp reads those too) is not checked for them.
    const bool utf16 = text.starts_with("\xFF\xFE") || text.starts_with("\xFE\xFF");
    SeenNodes seen;
    for (const YAML::Node& document : documents) {
      if (!utf16) check_quotes_close(document, text, origin, seen);
    }
  } catch (const Error& e) {
    e.rethrow_with_context(origin);
  }
  apply_config_root(single_document(documents, origin), origin, config);
}

std::string run_config_key(const std::string& dotted_key) {
  const auto other = other_layout_keys().find(dotted_key);
  const std::string key = other == other_layout_keys().end() ? dotted_key : other->second;
  const auto same = same_setting_keys().find(key);
  return same == same_setting_keys().end() ? key : same->second;
}

void apply_override(const std::string& dotted_key, const std::string& value, RunConfig& config) {
  // YAML reads the value only where it means what was written: a plain scalar it keeps whole (a
  // number, true/false, text), a quoted string, null or ~, and {} (an empty mapping, which some
  // keys take and a string cannot stand for). Anything else is the literal text: a mapping or a
  // list ("a: b", "[x]"), and what YAML would cut or refuse: "Scene #2: a fox" lost all but
  // "Scene" to a comment, "&a b" and "!t b" an anchor or tag, "*sparkles* a fox" was refused.
  const size_t first = value.find_first_not_of(" \t");
  const std::string trimmed = first == std::string::npos
                                  ? ""
                                  : value.substr(first, value.find_last_not_of(" \t") - first + 1);
  YAML::Node node;
  bool read = true;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception&) {
    read = false;
  }
  // Quoted as a whole: the quote that closes the opening one is the last character ('"a" # b "c"'
  // lost everything after "a" to a comment).
  const bool quoted_string = trimmed.size() >= 2 && (trimmed[0] == '\'' || trimmed[0] == '"') &&
                             closing_quote(trimmed, 0) == trimmed.size() - 1;
  const bool as_written =
      read && node.IsScalar() &&
      ((node.Tag() == "?" && node.Scalar() == trimmed) || (node.Tag() == "!" && quoted_string));
  if (trimmed == "null" || trimmed == "Null" || trimmed == "NULL" || trimmed == "~") {
    node = YAML::Node(YAML::NodeType::Null);
  } else if (read && node.IsMap() && node.size() == 0) {  // {} or { }
    node = YAML::Node(YAML::NodeType::Map);
  } else if (!as_written) {
    node = YAML::Node(value);
  }
  apply_key(dotted_key, node, config);
}

void apply_setting(const std::string& dotted_key, const std::string& value, RunConfig& config) {
  YAML::Node node(value);
  node.SetTag(kLiteralTag);
  apply_key(dotted_key, node, config);
}

std::vector<std::string> read_prompt_file(const std::filesystem::path& path) {
  std::error_code ec;
  FV_CHECK(!std::filesystem::is_directory(path, ec), path.string(),
           ": is a folder; request.inputs.prompt_path expects a text file of prompts");
  std::string text = read_text_file(path, "a prompt file, request.inputs.prompt_path");
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);  // a UTF-8 byte-order mark
  std::vector<std::string> prompts;
  // Python's universal newlines: \n, \r\n and a lone \r each end a line.
  size_t start = 0;
  for (int number = 1; start <= text.size(); ++number) {
    const size_t end = std::min(text.find_first_of("\r\n", start), text.size());
    const std::string_view line(text.data() + start, end - start);
    const std::string where = str_cat(path.string(), ":", number);
    FV_CHECK(line.find('\0') == std::string::npos, where, ": the line holds a NUL byte");
    const std::string bad_utf8 = utf8_violation(line);
    FV_CHECK(bad_utf8.empty(), where, ": not valid UTF-8: ", bad_utf8);
    const std::string_view prompt = strip_python_space(line);
    if (!prompt.empty()) prompts.emplace_back(prompt);
    start = end + (text.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  FV_CHECK(!prompts.empty(), path.string(), ": no prompts (one per line expected)");
  return prompts;
}

}  // namespace fastvideo
