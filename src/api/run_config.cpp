#include "fastvideo/run_config.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <set>

#include "fastvideo/log.h"

namespace fastvideo {

namespace {

using Setter = std::function<void(const YAML::Node&, RunConfig&)>;

template <class T>
T scalar(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) fail("key '", key, "' expects a single value");
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    fail("key '", key, "' has value '", node.Scalar(), "', which is not a valid ",
         std::is_same_v<T, bool>       ? "true/false"
         : std::is_integral_v<T>       ? "whole number"
         : std::is_floating_point_v<T> ? "number"
                                       : "string");
  }
}

// Keys FastVideo accepts that change nothing on this engine's CPU backend; accepted so a
// FastVideo run.yaml works unchanged, and logged so nobody thinks they took effect.
const std::set<std::string> kAcceptedWithoutEffect = {"generator.revision",
                                                      "generator.trust_remote_code",
                                                      "generator.engine.execution_backend",
                                                      "generator.engine.enable_stage_verification",
                                                      "generator.engine.use_fsdp_inference",
                                                      "generator.engine.disable_autocast",
                                                      "generator.pipeline.vae_tiling",
                                                      "request.output.return_frames",
                                                      "request.output.return_state",
                                                      "request.runtime.enable_teacache",
                                                      "request.runtime.return_trajectory_latents",
                                                      "request.runtime.return_trajectory_decoded"};
const std::vector<std::string> kAcceptedSectionsWithoutEffect = {
    "generator.engine.parallelism.", "generator.engine.offload.", "generator.engine.compile.",
    "generator.engine.quantization.", "generator.pipeline.components."};

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> table = {
      {"generator.model_path",
       [](auto& n, auto& c) { c.model_path = scalar<std::string>(n, "generator.model_path"); }},
      {"generator.engine.num_gpus",
       [](auto& n, auto&) {
         const int gpus = scalar<int>(n, "generator.engine.num_gpus");
         FV_CHECK(gpus == 1, "generator.engine.num_gpus=", gpus,
                  ": multi-GPU is not available in this version (expected 1)");
       }},
      {"generator.engine.device",
       [](auto& n, auto& c) {
         c.options.device = scalar<std::string>(n, "generator.engine.device");
       }},
      {"generator.pipeline.workload_type",
       [](auto& n, auto&) {
         auto w = scalar<std::string>(n, "generator.pipeline.workload_type");
         FV_CHECK(w == "t2v", "generator.pipeline.workload_type='", w,
                  "' is not supported (this version does t2v)");
       }},
      {"generator.pipeline.experimental.flow_shift",
       [](auto& n, auto& c) { c.request.flow_shift = scalar<double>(n, "flow_shift"); }},
      {"generator.pipeline.experimental.attention_backend",
       [](auto& n, auto& c) {
         c.options.attention_backend = scalar<std::string>(n, "attention_backend");
       }},
      {"generator.pipeline.experimental.scheduler",
       [](auto& n, auto& c) { c.options.scheduler = scalar<std::string>(n, "scheduler"); }},
      {"request.prompt",
       [](auto& n, auto& c) { c.request.prompt = scalar<std::string>(n, "request.prompt"); }},
      {"request.negative_prompt",
       [](auto& n, auto& c) {
         c.request.negative_prompt = scalar<std::string>(n, "request.negative_prompt");
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
      {"request.sampling.num_videos_per_prompt",
       [](auto& n, auto&) {
         const int v = scalar<int>(n, "request.sampling.num_videos_per_prompt");
         FV_CHECK(v == 1, "request.sampling.num_videos_per_prompt=", v,
                  " is not supported (expected 1)");
       }},
      {"request.output.output_path",
       [](auto& n, auto& c) { c.output = scalar<std::string>(n, "request.output.output_path"); }},
      {"request.output.output_video_name",
       [](auto& n, auto& c) {
         c.output = c.output.value_or("outputs") /
                    scalar<std::string>(n, "request.output.output_video_name");
       }},
      {"request.output.save_video",
       [](auto& n, auto& c) {
         if (!scalar<bool>(n, "request.output.save_video")) c.output = std::filesystem::path();
       }},
  };
  return table;
}

std::vector<std::string> known_children(const std::string& prefix) {
  std::set<std::string> names;
  auto add = [&](const std::string& key) {
    if (key.rfind(prefix, 0) != 0) return;
    std::string rest = key.substr(prefix.size());
    names.insert(rest.substr(0, rest.find('.')));
  };
  for (auto& [k, v] : setters()) add(k);
  for (auto& k : kAcceptedWithoutEffect) add(k);
  for (auto& k : kAcceptedSectionsWithoutEffect) add(k);
  return {names.begin(), names.end()};
}

void apply_key(const std::string& key, const YAML::Node& node, RunConfig& config) {
  if (auto it = setters().find(key); it != setters().end()) {
    it->second(node, config);
    return;
  }
  if (kAcceptedWithoutEffect.count(key)) {
    log::info("config key '", key, "' has no effect on this engine; ignored");
    return;
  }
  for (auto& section : kAcceptedSectionsWithoutEffect) {
    if (key.rfind(section, 0) == 0) {
      log::info("config key '", key, "' has no effect on this engine; ignored");
      return;
    }
  }
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      apply_key(key.empty() ? it->first.Scalar() : key + "." + it->first.Scalar(), it->second,
                config);
    }
    return;
  }
  const std::string parent =
      key.find('.') == std::string::npos ? "" : key.substr(0, key.rfind('.') + 1);
  std::string valid;
  for (auto& c : known_children(parent)) valid += (valid.empty() ? "" : ", ") + c;
  fail("unknown key '", key, "'",
       valid.empty()
           ? ""
           : str_cat(" (valid keys",
                     parent.empty() ? "" : " under " + parent.substr(0, parent.size() - 1), ": ",
                     valid, ")"));
}

}  // namespace

void apply_config_file(const std::filesystem::path& path, RunConfig& config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.string());
  } catch (const YAML::BadFile&) {
    fail(path.string(), ": cannot open (missing or unreadable)");
  } catch (const YAML::Exception& e) {
    fail(path.string(), ": malformed YAML: ", e.what());
  }
  if (!root.IsMap()) fail(path.string(), ": expected a mapping with 'generator' and 'request'");
  try {
    apply_key("", root, config);
  } catch (const Error& e) {
    throw e.with_context(path.string());
  }
}

void apply_override(const std::string& dotted_key, const std::string& value, RunConfig& config) {
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    fail("override --", dotted_key, ": value '", value, "' is not valid YAML: ", e.what());
  }
  // Anything that is not a plain scalar ("a: b", "[x]") is taken as the literal string.
  if (!node.IsDefined() || node.IsNull() || !node.IsScalar()) node = YAML::Node(value);
  apply_key(dotted_key, node, config);
}

}  // namespace fastvideo
