#include "pipeline/wan_checkpoint.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/excerpt.h"
#include "schedulers/make_scheduler.h"

namespace fastvideo {

namespace {

struct WanComponent {
  const char* name;
  std::vector<std::string_view> classes;  // what this engine loads for it
  // The key of the component's own config that names its class: diffusers configs always have
  // _class_name; transformers configs may leave theirs out.
  const char* class_key;
  bool class_key_required;
};

// wan21.md §5: the components WanPipeline is built from; WanDMDPipeline requires the same ones
// (fastvideo.md §1.3), and FastWan's checkpoint ships Wan's UniPC scheduler config, which its DMD
// stage does not use.
const std::vector<WanComponent>& wan_components() {
  static const std::vector<WanComponent> components = {
      {"transformer", {"WanTransformer3DModel"}, "_class_name", true},
      {"text_encoder", {"UMT5EncoderModel"}, "architectures", false},
      {"tokenizer", {"T5Tokenizer", "T5TokenizerFast"}, "tokenizer_class", false},
      {"vae", {"AutoencoderKLWan"}, "_class_name", true},
      {"scheduler",
       {kCheckpointSchedulerClasses.begin(), kCheckpointSchedulerClasses.end()},
       "_class_name",
       true}};
  return components;
}

// A class name as messages quote config strings: in JSON quotes, long ones cut (core/excerpt.h).
std::string quoted(const std::string& name) { return excerpt(nlohmann::json(name).dump()); }

std::string one_of(const std::vector<std::string_view>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    s += i == 0 ? "" : i + 1 == names.size() ? " or " : ", ";
    s += names[i];
  }
  return s;
}

bool accepted(const std::vector<std::string_view>& classes, const std::string& name) {
  for (std::string_view c : classes) {
    if (c == name) return true;
  }
  return false;
}

// The component's own config names a class this engine loads (and, for a diffusers config, the
// one model_index.json lists).
void check_own_config(const CheckpointFolder& checkpoint, const WanComponent& c) {
  const JsonFile config = checkpoint.config(c.name);
  FV_CHECK(config.json().is_object(), config.origin(), ": expected a JSON object, got ",
           excerpt(config.json().dump()));
  if (!c.class_key_required && !config.has(c.class_key)) return;
  // "architectures" (a transformers config's) is a list of names; the others one name (QA
  // fuzzing: '_class_name: []' crashed, and a one-name list passed for a name).
  const bool listed = std::string_view(c.class_key) == "architectures";
  const std::vector<std::string> names = listed ? config.get<std::vector<std::string>>(c.class_key)
                                                : std::vector{config.get<std::string>(c.class_key)};
  FV_CHECK(!names.empty(), config.origin(), ": key '", c.class_key,
           "' is an empty list; expected the class name, ", one_of(c.classes));
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string key = listed ? str_cat(c.class_key, "[", i, "]") : c.class_key;
    if (!accepted(c.classes, names[i])) {
      fail(config.origin(), ": key '", key, "' has value ", quoted(names[i]), "; the ", c.name,
           " this engine loads is ", one_of(c.classes));
    }
  }
  if (c.class_key_required && names[0] != checkpoint.component_class(c.name)) {
    fail(config.origin(), ": key '", c.class_key, "' has value ", quoted(names[0]),
         ", but model_index.json gives the ", c.name, " class ",
         quoted(checkpoint.component_class(c.name)));
  }
}

std::optional<WanPipelineKind> pipeline_kind_named(const std::string& class_name) {
  for (WanPipelineKind kind : {WanPipelineKind::Wan, WanPipelineKind::Dmd}) {
    if (class_name == wan_pipeline_class_name(kind)) return kind;
  }
  return std::nullopt;
}

}  // namespace

WanPipelineKind wan_pipeline_kind(const CheckpointFolder& checkpoint) {
  const auto kind = pipeline_kind_named(checkpoint.class_name());
  FV_CHECK(kind.has_value(), "model_index.json: pipeline class ", quoted(checkpoint.class_name()),
           " is not one this engine runs");
  return *kind;
}

CheckpointFolder open_wan_checkpoint(const std::filesystem::path& dir) {
  CheckpointFolder checkpoint = CheckpointFolder::open(dir);
  const std::string index = (dir / "model_index.json").string();
  if (!pipeline_kind_named(checkpoint.class_name())) {
    fail(index, ": key '_class_name' has value ", quoted(checkpoint.class_name()),
         "; the pipelines this engine runs are WanPipeline and WanDMDPipeline");
  }
  const std::string& pipeline = checkpoint.class_name();
  // Wan2.2's pipeline settings (two transformers switched by timestep; per-token timesteps): a
  // Wan2.1 or FastWan folder leaves them out or null. Set, they would be ignored here: refused.
  for (const auto& [key, what] :
       {std::pair{"boundary_ratio", "Wan2.2's switch between two transformers by timestep"},
        std::pair{"expand_timesteps", "Wan2.2's per-token timesteps"}}) {
    const nlohmann::json value = checkpoint.setting(key);
    if (!value.is_null() && value != false) {
      fail(index, ": key '", key, "' has value ", excerpt(value.dump()), ": ", what,
           ", which this engine does not implement (Wan2.1 and FastWan checkpoints leave it out "
           "or null)");
    }
  }
  std::vector<std::string_view> names;
  for (const WanComponent& c : wan_components()) names.push_back(c.name);
  for (const std::string& listed : checkpoint.components()) {
    if (!accepted(names, listed)) {
      fail(index, ": key '", excerpt(listed), "' lists a ",
           excerpt(checkpoint.component_class(listed)), " component, which ", pipeline,
           " text-to-video does not use (its components are ", one_of(names), ")");
    }
  }
  for (const WanComponent& c : wan_components()) {
    if (!checkpoint.has(c.name)) {
      // A value that is no [library, class] pair reads as a pipeline setting: say so.
      if (const nlohmann::json value = checkpoint.setting(c.name); !value.is_null()) {
        fail(index, ": ", pipeline, " needs component ", c.name, ", which is ",
             excerpt(value.dump()), "; expected [library, class]");
      }
      fail(index, ": ", pipeline, " needs component ", c.name, ", which is not listed");
    }
    if (!accepted(c.classes, checkpoint.component_class(c.name))) {
      fail(index, ": key '", c.name, "' has class ", quoted(checkpoint.component_class(c.name)),
           "; the ", c.name, " this engine loads is ", one_of(c.classes));
    }
  }
  for (const WanComponent& c : wan_components()) check_own_config(checkpoint, c);
  return checkpoint;
}

}  // namespace fastvideo
