#include "models/tiny_model.h"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/env.h"
#include "core/log.h"
#include "core/torch_random.h"
#include "io/checkpoint.h"
#include "models/random_weights.h"
#include "models/umt5/umt5_config.h"
#include "models/umt5/umt5_encoder.h"
#include "models/wan/wan_transformer.h"
#include "models/wan/wan_vae_decoder.h"
#include "models/wan/wan_vae_specs.h"
#include "tokenizer/t5_tokenizer.h"
#include "tokenizer/tiny_tokenizer.h"

namespace fastvideo {

namespace {

using nlohmann::ordered_json;

void write_json(const std::filesystem::path& path, const ordered_json& j) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) fail(path.string(), ": cannot write");
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// Random values scaled so activations stay O(1) (models/random_weights.h: gains near 1, small
// biases, fan-in scaled weights), drawn from torch_randn. Each tensor has its own stream
// (seed, name), so adding a tensor changes no other.
Tensor tiny_weight(const TensorSpec& spec, uint64_t seed) {
  Tensor t = torch_randn(spec.shape, (seed * 0x9E3779B97F4A7C15ull) ^ fnv1a(spec.name));
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

// What differs between the sizes (docs/tiny-model.md; wan21.md §0, §2.1, §3.1).
struct Sizes {
  int dit_heads, dit_ffn, dit_layers, dit_text_dim;
  int umt5_d_model, umt5_heads, umt5_d_ff, umt5_layers, umt5_vocab;  // vocab 0: the tokenizer's
  int vae_base_dim;
};

Sizes sizes_of(ModelSize size) {
  switch (size) {
    case ModelSize::tiny:
      return {2, 512, 2, 128, 128, 2, 256, 2, 0, 16};
    case ModelSize::wan_1_3b:
      return {12, 8960, 30, 4096, 4096, 64, 10240, 24, 256384, 96};
    case ModelSize::wan_14b:
      return {40, 13824, 40, 4096, 4096, 64, 10240, 24, 256384, 96};
  }
  fail("unknown model size");
}

ordered_json transformer_config(const Sizes& z) {
  return {{"_class_name", "WanTransformer3DModel"},
          {"_diffusers_version", "0.33.0.dev0"},
          {"added_kv_proj_dim", nullptr},
          {"attention_head_dim", 128},
          {"cross_attn_norm", true},
          {"eps", 1e-06},
          {"ffn_dim", z.dit_ffn},
          {"freq_dim", 256},
          {"image_dim", nullptr},
          {"in_channels", 16},
          {"num_attention_heads", z.dit_heads},
          {"num_layers", z.dit_layers},
          {"out_channels", 16},
          {"patch_size", {1, 2, 2}},
          {"qk_norm", "rms_norm_across_heads"},
          {"rope_max_seq_len", 1024},
          {"text_dim", z.dit_text_dim}};
}

ordered_json text_encoder_config(const Sizes& z, int vocab_size, DType stored) {
  return {{"architectures", {"UMT5EncoderModel"}},
          {"d_ff", z.umt5_d_ff},
          {"d_kv", 64},
          {"d_model", z.umt5_d_model},
          {"decoder_start_token_id", 0},
          {"dense_act_fn", "gelu_new"},
          {"dropout_rate", 0.1},
          {"eos_token_id", 1},
          {"feed_forward_proj", "gated-gelu"},
          {"initializer_factor", 1.0},
          {"is_encoder_decoder", true},
          {"is_gated_act", true},
          {"layer_norm_epsilon", 1e-06},
          {"model_type", "umt5"},
          {"num_decoder_layers", z.umt5_layers},
          {"num_heads", z.umt5_heads},
          {"num_layers", z.umt5_layers},
          {"pad_token_id", 0},
          {"relative_attention_max_distance", 128},
          {"relative_attention_num_buckets", 32},
          {"scalable_attention", true},
          {"tie_word_embeddings", false},
          {"torch_dtype", stored == DType::F32 ? "float32" : "bfloat16"},
          {"vocab_size", vocab_size}};
}

ordered_json vae_config(const Sizes& z) {
  return {{"_class_name", "AutoencoderKLWan"},
          {"_diffusers_version", "0.33.0.dev0"},
          {"attn_scales", ordered_json::array()},
          {"base_dim", z.vae_base_dim},
          {"dim_mult", {1, 2, 4, 4}},
          {"dropout", 0.0},
          {"latents_mean",
           {-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715,
            0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921}},
          {"latents_std",
           {2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652,
            1.5579, 1.6382, 1.1253, 2.8251, 1.916}},
          {"num_res_blocks", 2},
          {"temperal_downsample", {false, true, true}},
          {"z_dim", 16}};
}

// wan21.md §4.2: the scheduler config shipped with Wan2.1-T2V-1.3B-Diffusers.
ordered_json scheduler_config() {
  return {{"_class_name", "UniPCMultistepScheduler"},
          {"_diffusers_version", "0.33.0.dev0"},
          {"beta_end", 0.02},
          {"beta_schedule", "linear"},
          {"beta_start", 0.0001},
          {"disable_corrector", ordered_json::array()},
          {"dynamic_thresholding_ratio", 0.995},
          {"final_sigmas_type", "zero"},
          {"flow_shift", 3.0},
          {"lower_order_final", true},
          {"num_train_timesteps", 1000},
          {"predict_x0", true},
          {"prediction_type", "flow_prediction"},
          {"rescale_betas_zero_snr", false},
          {"sample_max_value", 1.0},
          {"solver_order", 2},
          {"solver_p", nullptr},
          {"solver_type", "bh2"},
          {"steps_offset", 0},
          {"thresholding", false},
          {"timestep_spacing", "linspace"},
          {"trained_betas", nullptr},
          {"use_beta_sigmas", false},
          {"use_exponential_sigmas", false},
          {"use_flow_sigmas", true},
          {"use_karras_sigmas", false}};
}

ordered_json model_index() {
  return {{"_class_name", "WanPipeline"},
          {"_diffusers_version", "0.33.0.dev0"},
          {"scheduler", {"diffusers", "UniPCMultistepScheduler"}},
          {"text_encoder", {"transformers", "UMT5EncoderModel"}},
          {"tokenizer", {"transformers", "T5TokenizerFast"}},
          {"transformer", {"diffusers", "WanTransformer3DModel"}},
          {"vae", {"diffusers", "AutoencoderKLWan"}}};
}

JsonFile as_json_file(const ordered_json& config, const std::string& origin) {
  return JsonFile(nlohmann::json::parse(config.dump()), origin);
}

// docs/tiny-model.md: fixed shard counts, weights from torch_randn. Its bytes are pinned by the
// goldens, so nothing here changes.
void write_tiny_weights(const std::filesystem::path& tmp, const Sizes& z, uint64_t seed,
                        DType text_encoder_dtype) {
  write_json(tmp / "transformer" / "config.json", transformer_config(z));
  auto dit = WanTransformerConfig::from_json(JsonFile::load(tmp / "transformer" / "config.json"));
  write_component(tmp / "transformer", "diffusion_pytorch_model",
                  tiny_weights(wan_transformer_specs(dit), seed), 2, DType::F32);

  const int vocab = T5Tokenizer::load(tmp / "tokenizer").vocab_size();
  write_json(tmp / "text_encoder" / "config.json",
             text_encoder_config(z, vocab, text_encoder_dtype));
  auto umt5 = Umt5Config::from_json(JsonFile::load(tmp / "text_encoder" / "config.json"));
  write_component(tmp / "text_encoder", "model", tiny_weights(umt5_encoder_specs(umt5), seed), 2,
                  text_encoder_dtype);

  write_json(tmp / "vae" / "config.json", vae_config(z));
  auto vae = WanVaeConfig::from_json(JsonFile::load(tmp / "vae" / "config.json"));
  write_component(tmp / "vae", "diffusion_pytorch_model", tiny_weights(wan_vae_specs(vae), seed), 1,
                  DType::F32);
}

// huggingface_hub's default max_shard_size ("5GB"), with which the real repos were saved.
constexpr uint64_t kRealShardBytesF32 = 5'000'000'000ull;

// The same tensors per file as the F32 split, whatever the stored dtype.
ShardPlan real_shards(const std::vector<TensorSpec>& specs, const std::string& basename,
                      DType stored) {
  return plan_shards(specs, basename, stored, kRealShardBytesF32 * dtype_size(stored) / 4);
}

std::string size_name(ModelSize size) {
  switch (size) {
    case ModelSize::tiny:
      return "tiny";
    case ModelSize::wan_1_3b:
      return "1.3b";
    case ModelSize::wan_14b:
      return "14b";
  }
  return "?";
}

}  // namespace

ModelSize parse_model_size(const std::string& name) {
  if (name == "tiny") return ModelSize::tiny;
  if (name == "1.3b") return ModelSize::wan_1_3b;
  if (name == "14b") return ModelSize::wan_14b;
  fail("model config '", name, "' is not one of tiny, 1.3b, 14b");
}

std::vector<ComponentPlan> plan_checkpoint(ModelSize size, DType text_encoder_dtype) {
  FV_CHECK(size != ModelSize::tiny,
           "plan_checkpoint: the tiny model's layout is fixed (docs/tiny-model.md); plans are "
           "for the real sizes");
  const Sizes z = sizes_of(size);
  const std::string origin = "built-in Wan2.1 " + size_name(size) + " ";
  std::vector<ComponentPlan> plan;

  ordered_json dit_json = transformer_config(z);
  auto dit = WanTransformerConfig::from_json(as_json_file(dit_json, origin + "transformer config"));
  plan.push_back({"transformer", dit_json,
                  real_shards(wan_transformer_specs(dit), "diffusion_pytorch_model", DType::F32)});

  ordered_json umt5_json = text_encoder_config(z, z.umt5_vocab, text_encoder_dtype);
  auto umt5 = Umt5Config::from_json(as_json_file(umt5_json, origin + "text encoder config"));
  plan.push_back({"text_encoder", umt5_json,
                  real_shards(umt5_encoder_specs(umt5), "model", text_encoder_dtype)});

  ordered_json vae_json = vae_config(z);
  auto vae = WanVaeConfig::from_json(as_json_file(vae_json, origin + "vae config"));
  plan.push_back(
      {"vae", vae_json, real_shards(wan_vae_specs(vae), "diffusion_pytorch_model", DType::F32)});
  return plan;
}

void write_model(const std::filesystem::path& dir, const ModelWriteOptions& options) {
  namespace fs = std::filesystem;
  const bool tiny = options.size == ModelSize::tiny;
  const DType text_encoder_dtype =
      options.text_encoder_dtype.value_or(tiny ? DType::BF16 : DType::F32);
  FV_CHECK(text_encoder_dtype == DType::F32 || text_encoder_dtype == DType::BF16,
           "text encoder dtype ", dtype_name(text_encoder_dtype), " is not F32 or BF16");
  if (fs::exists(dir) && !options.overwrite) {
    fail(dir.string(), " exists; pass --overwrite to replace it");
  }
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  fs::create_directories(parent);
  const fs::path tmp = parent / str_cat(".", dir.filename().string(), ".tmp-", ::getpid());
  fs::remove_all(tmp);
  try {
    write_json(tmp / "model_index.json", model_index());
    // The real sizes keep the tiny tokenizer too: its ids (< 384) are valid rows of the
    // 256384-row embedding.
    write_tiny_tokenizer(tmp / "tokenizer");
    if (tiny) {
      write_tiny_weights(tmp, sizes_of(ModelSize::tiny), options.seed, text_encoder_dtype);
    } else {
      const uint64_t seed = options.seed;
      const TensorFiller fill = [seed](const TensorSpec& spec, int64_t first,
                                       std::span<float> out) {
        fill_random_weight(spec, seed, first, out);
      };
      for (const ComponentPlan& c : plan_checkpoint(options.size, text_encoder_dtype)) {
        log::info("writing ", c.folder, ": ", c.weights.num_tensors(), " tensors, ",
                  double(c.weights.total_bytes()) / 1e9, " GB ", dtype_name(c.weights.stored_dtype),
                  " in ", c.weights.shards.size(), " file(s)");
        write_json(tmp / c.folder / "config.json", c.config);
        write_component_streamed(tmp / c.folder, c.weights, fill);
      }
    }
    write_json(tmp / "scheduler" / "scheduler_config.json", scheduler_config());
    if (fs::exists(dir)) fs::remove_all(dir);
    fs::rename(tmp, dir);
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
}

void write_tiny_model(const std::filesystem::path& dir, uint64_t seed, bool overwrite) {
  ModelWriteOptions options;
  options.seed = seed;
  options.overwrite = overwrite;
  write_model(dir, options);
}

std::filesystem::path default_tiny_model_dir() {
  if (auto v = env_string("FASTVIDEO_TINY_MODEL")) return *v;
  std::filesystem::path cache;
  if (auto x = env_string("XDG_CACHE_HOME")) {
    cache = *x;
  } else if (auto h = env_string("HOME")) {
    cache = std::filesystem::path(*h) / ".cache";
  } else {
    cache = std::filesystem::temp_directory_path();
  }
  return cache / "fastvideo" / "tiny-model-seed0";
}

std::filesystem::path ensure_default_tiny_model() {
  auto dir = default_tiny_model_dir();
  if (!std::filesystem::exists(dir / "model_index.json")) {
    log::info("no --model given: writing the tiny test model to ", dir.string());
    write_tiny_model(dir, 0, /*overwrite=*/true);
  }
  return dir;
}

}  // namespace fastvideo
