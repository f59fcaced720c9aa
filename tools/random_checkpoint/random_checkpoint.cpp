#include "random_checkpoint/random_checkpoint.h"

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/env.h"
#include "core/torch_random.h"
#include "fastvideo/log.h"
#include "io/checkpoint.h"
#include "models/umt5/umt5_encoder.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/vae/wan_vae_specs.h"
#include "random_checkpoint/checkpoint_plan.h"
#include "random_checkpoint/random_weights.h"
#include "random_checkpoint/tiny_tokenizer.h"
#include "random_checkpoint/wan_checkpoint_configs.h"
#include "tokenizer/t5_tokenizer.h"

namespace fastvideo {

namespace {

namespace fs = std::filesystem;

void write_json(const fs::path& path, const nlohmann::ordered_json& j) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) fail(path.string(), ": cannot write");
}

// Random values scaled so activations stay O(1) (random_weights.h: gains near 1, small biases,
// fan-in scaled weights), drawn from torch_randn. Each tensor has its own stream (seed, name), so
// adding a tensor changes no other.
Tensor tiny_weight(const TensorSpec& spec, uint64_t seed) {
  Tensor t = torch_randn(spec.shape, tensor_stream_seed(seed, spec.name));
  const WeightScale w = weight_scale(spec);
  for (float& v : t.f32()) v = v * w.std_dev + w.mean;
  return t;
}

std::vector<std::pair<std::string, Tensor>> tiny_weights(const std::vector<TensorSpec>& specs,
                                                         uint64_t seed) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& spec : specs) out.emplace_back(spec.name, tiny_weight(spec, seed));
  return out;
}

// docs/tiny-model.md: fixed shard counts, weights from torch_randn. Its bytes are pinned by the
// goldens, so nothing here changes.
// The FastWan tiny model is the same plus its VSA gates, each with its own stream.
void write_tiny_weights(const fs::path& tmp, const WanModelPreset& tiny, uint64_t seed,
                        DType text_encoder_dtype) {
  write_json(tmp / "transformer" / "config.json", wan_transformer_config_json(tiny));
  auto dit = WanTransformerConfig::from_json(JsonFile::load(tmp / "transformer" / "config.json"));
  std::vector<TensorSpec> dit_specs = wan_transformer_specs(dit);
  if (tiny.pipeline == WanPipelineKind::Dmd) {
    const std::vector<TensorSpec> gates = fastwan_gate_specs(dit);
    dit_specs.insert(dit_specs.end(), gates.begin(), gates.end());
  }
  write_component(tmp / "transformer", "diffusion_pytorch_model", tiny_weights(dit_specs, seed), 2,
                  DType::F32);

  const int vocab = T5Tokenizer::load(tmp / "tokenizer").vocab_size();
  write_json(tmp / "text_encoder" / "config.json",
             umt5_config_json(tiny, vocab, text_encoder_dtype));
  auto umt5 = Umt5Config::from_json(JsonFile::load(tmp / "text_encoder" / "config.json"));
  write_component(tmp / "text_encoder", "model", tiny_weights(umt5_encoder_specs(umt5), seed), 2,
                  text_encoder_dtype);

  write_json(tmp / "vae" / "config.json", wan_vae_config_json(tiny));
  auto vae = WanVaeConfig::from_json(JsonFile::load(tmp / "vae" / "config.json"));
  write_component(tmp / "vae", "diffusion_pytorch_model", tiny_weights(wan_vae_specs(vae), seed), 1,
                  DType::F32);
}

void write_real_size_weights(const fs::path& tmp, const WanModelPreset& preset, uint64_t seed,
                             DType text_encoder_dtype, DType transformer_dtype,
                             const std::function<void()>& check_stop) {
  const TensorFiller fill = [seed, &check_stop](const TensorSpec& spec, int64_t first,
                                                std::span<float> out) {
    check_stop();
    fill_random_weight(spec, seed, first, out);
  };
  for (const ComponentPlan& c : plan_checkpoint(preset, text_encoder_dtype, transformer_dtype)) {
    log::info("writing ", c.folder, ": ", c.weights.num_tensors(), " tensors, ",
              double(c.weights.total_bytes()) / 1e9, " GB ", dtype_name(c.weights.stored_dtype),
              " in ", c.weights.shards.size(), " file(s)");
    write_json(tmp / c.folder / "config.json", c.config);
    write_component_streamed(tmp / c.folder, c.weights, fill);
  }
}

DType parse_text_encoder_dtype(const std::string& name, bool tiny) {
  if (name.empty()) return tiny ? DType::BF16 : DType::F32;
  if (name == "f32") return DType::F32;
  if (name == "bf16") return DType::BF16;
  fail("text encoder dtype '", name, "' is not f32 or bf16");
}

// The folder a checkpoint asked for at `asked` goes to: "m/" and "a/m/../m" are the folder m; one
// that exists is replaced only with overwrite, and only when it is empty or a checkpoint (it has a
// model_index.json): anything else there is the user's, and stays.
fs::path checkpoint_folder(const fs::path& asked, bool overwrite) {
  FV_CHECK(!asked.empty(), "no folder given for the checkpoint");
  fs::path dir = asked.lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();
  const std::string name = dir.filename().string();
  FV_CHECK(!name.empty() && name != "." && name != ".." && dir != dir.root_path(), asked.string(),
           ": names no folder of its own to write the checkpoint into; name a new folder, e.g. ",
           (asked / "tiny").string());
  const fs::file_status status = fs::symlink_status(dir);
  if (!fs::exists(status)) return dir;
  FV_CHECK(overwrite, asked.string(), " exists; pass --overwrite to replace it");
  FV_CHECK(fs::is_directory(status), asked.string(),
           " exists and is not a folder; --overwrite replaces only a checkpoint folder");
  FV_CHECK(fs::is_empty(dir) || fs::exists(dir / "model_index.json"), asked.string(),
           " exists and is not a checkpoint (no model_index.json); --overwrite replaces only a "
           "checkpoint folder, so its files stay: name another folder");
  return dir;
}

}  // namespace

namespace {

void write_checkpoint_folder(const fs::path& asked, const RandomCheckpointOptions& options);

}  // namespace

// The folder work's filesystem errors (a file where a folder must go, no permission) name the
// checkpoint's folder and the path at fault, not only the library's words.
void write_random_checkpoint(const fs::path& asked, const RandomCheckpointOptions& options) {
  try {
    write_checkpoint_folder(asked, options);
  } catch (const fs::filesystem_error& e) {
    fail(asked.string(), ": cannot write the checkpoint there: ", e.code().message(),
         e.path1().empty() ? std::string() : " (" + e.path1().string() + ")");
  }
}

namespace {

void write_checkpoint_folder(const fs::path& asked, const RandomCheckpointOptions& options) {
  const WanModelPreset& preset = wan_model_preset(options.size);
  const bool tiny = preset.text_encoder.vocab == 0;
  const DType text_encoder_dtype = parse_text_encoder_dtype(options.text_encoder_dtype, tiny);
  FV_CHECK(options.transformer_dtype.empty() || options.transformer_dtype == "f32" ||
               options.transformer_dtype == "bf16",
           "transformer dtype '", options.transformer_dtype, "' is not f32 or bf16");
  FV_CHECK(!tiny || options.transformer_dtype.empty(), "transformer dtype '",
           options.transformer_dtype, "': the tiny model's layout is fixed (docs/tiny-model.md)");
  const DType transformer_dtype = options.transformer_dtype == "bf16" ? DType::BF16 : DType::F32;
  const fs::path dir = checkpoint_folder(asked, options.overwrite);
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  fs::create_directories(parent);
  const fs::path tmp = parent / str_cat(".", dir.filename().string(), ".tmp-", ::getpid());
  const fs::path old = parent / str_cat(".", dir.filename().string(), ".old-", ::getpid());
  fs::remove_all(tmp);
  fs::remove_all(old);  // a killed earlier run of this PID's
  const auto check_stop = [&options] {
    if (options.stop_requested && options.stop_requested())
      throw Cancelled("stopped while writing the checkpoint");
  };
  try {
    write_json(tmp / "model_index.json", wan_model_index_json(preset.pipeline));
    // The real sizes keep the tiny tokenizer too: its ids (< 384) are valid rows of the
    // 256384-row embedding.
    write_tiny_tokenizer(tmp / "tokenizer");
    if (tiny) {
      write_tiny_weights(tmp, preset, options.seed, text_encoder_dtype);
    } else {
      write_real_size_weights(tmp, preset, options.seed, text_encoder_dtype, transformer_dtype,
                              check_stop);
    }
    write_json(tmp / "scheduler" / "scheduler_config.json", wan_scheduler_config_json());
    check_stop();  // the last moment: after it, the folder is complete and in place
    // The old checkpoint steps aside and goes only once the new one is in its place.
    const bool replacing = fs::exists(fs::symlink_status(dir));
    FV_CHECK(!replacing || options.overwrite, asked.string(),
             " appeared while the checkpoint was being written; pass --overwrite to replace it");
    if (replacing) fs::rename(dir, old);
    std::error_code ec;
    fs::rename(tmp, dir, ec);
    if (ec) {
      if (replacing) fs::rename(old, dir);
      fail("cannot move the new checkpoint from ", tmp.string(), " to ", dir.string(), ": ",
           ec.message());
    }
    fs::remove_all(old, ec);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace

void write_tiny_model(const fs::path& dir, uint64_t seed, bool overwrite) {
  RandomCheckpointOptions options;
  options.seed = seed;
  options.overwrite = overwrite;
  write_random_checkpoint(dir, options);
}

namespace {

// The tiny model's default folder and the setting that chose it (for messages about it).
struct TinyModelFolder {
  fs::path dir;
  const char* chosen_by;
};

TinyModelFolder tiny_model_folder() {
  if (auto v = env_string("FASTVIDEO_TINY_MODEL")) return {*v, "FASTVIDEO_TINY_MODEL"};
  const fs::path name = fs::path("fastvideo") / "tiny-model-seed0";
  if (auto x = env_string("XDG_CACHE_HOME")) return {fs::path(*x) / name, "under XDG_CACHE_HOME"};
  if (auto h = env_string("HOME")) return {fs::path(*h) / ".cache" / name, "under HOME/.cache"};
  std::error_code ec;
  const fs::path temp = fs::temp_directory_path(ec);
  if (ec) {
    fail(
        "no folder for the tiny test model: HOME and XDG_CACHE_HOME are unset, and the "
        "temporary folder (TMPDIR) is unusable: ",
        ec.message(), "; pass --model, or set FASTVIDEO_TINY_MODEL to a writable folder");
  }
  return {temp / name, "under the temporary folder: no HOME is set"};
}

}  // namespace

fs::path ensure_default_tiny_model() {
  const TinyModelFolder folder = tiny_model_folder();
  const fs::path& dir = folder.dir;
  // Only a missing or empty folder is written into: anything else there is the user's, and the
  // writer's own refusal would speak of a --overwrite no one passed (QA fuzzing).
  std::error_code ec;
  if (fs::exists(fs::symlink_status(dir, ec)) && !fs::exists(dir / "model_index.json", ec) &&
      !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
    fail(folder.chosen_by == std::string_view("FASTVIDEO_TINY_MODEL") ? "FASTVIDEO_TINY_MODEL="
                                                                      : "the tiny model's folder ",
         dir.string(),
         " exists and holds no checkpoint (no model_index.json); name a new or empty folder, or "
         "pass --model");
  }
  if (!fs::exists(dir / "model_index.json", ec)) {
    log::info("no model given: writing the tiny test model to ", dir.string());
    try {
      write_tiny_model(dir, 0, /*overwrite=*/true);
    } catch (const Cancelled&) {
      throw;
    } catch (const Error& e) {
      e.rethrow_with_context(str_cat(
          "no model given, and the tiny test model cannot be written to its folder (",
          folder.chosen_by, "); pass --model, or set FASTVIDEO_TINY_MODEL to a writable folder"));
    }
  }
  return dir;
}

}  // namespace fastvideo
