#include "models/tiny_model.h"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/env.h"
#include "core/log.h"
#include "core/torch_random.h"
#include "io/checkpoint.h"
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

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Random values scaled so activations stay O(1): gains near 1, small biases, fan-in scaled
// weights. Each tensor has its own stream (seed, name), so adding a tensor changes no other.
Tensor tiny_weight(const TensorSpec& spec, uint64_t seed) {
  Tensor t = torch_randn(spec.shape, (seed * 0x9E3779B97F4A7C15ull) ^ fnv1a(spec.name));
  const std::string& n = spec.name;
  float scale, offset = 0.0f;
  if (ends_with(n, ".bias")) {
    scale = 0.02f;
  } else if (n.find("norm") != std::string::npos || ends_with(n, ".gamma")) {
    scale = 0.1f, offset = 1.0f;  // norm gains
  } else if (n.find("scale_shift_table") != std::string::npos) {
    scale = 0.1f;
  } else if (n == "shared.weight") {
    scale = 1.0f;  // token embeddings
  } else if (n.find("relative_attention_bias") != std::string::npos) {
    scale = 0.5f;
  } else {
    const double fan_in = double(t.numel()) / double(std::max<int64_t>(spec.shape[0], 1));
    scale = float(1.0 / std::sqrt(fan_in));
    if (ends_with(n, "SelfAttention.q.weight")) scale *= 0.125f;  // T5 folds 1/√d_kv into q
  }
  for (float& v : t.f32()) v = v * scale + offset;
  return t;
}

std::vector<std::pair<std::string, Tensor>> tiny_weights(const std::vector<TensorSpec>& specs,
                                                         uint64_t seed) {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& spec : specs) out.emplace_back(spec.name, tiny_weight(spec, seed));
  return out;
}

ordered_json transformer_config() {
  return {{"_class_name", "WanTransformer3DModel"},
          {"_diffusers_version", "0.33.0.dev0"},
          {"added_kv_proj_dim", nullptr},
          {"attention_head_dim", 128},
          {"cross_attn_norm", true},
          {"eps", 1e-06},
          {"ffn_dim", 512},
          {"freq_dim", 256},
          {"image_dim", nullptr},
          {"in_channels", 16},
          {"num_attention_heads", 2},
          {"num_layers", 2},
          {"out_channels", 16},
          {"patch_size", {1, 2, 2}},
          {"qk_norm", "rms_norm_across_heads"},
          {"rope_max_seq_len", 1024},
          {"text_dim", 128}};
}

ordered_json text_encoder_config(int vocab_size) {
  return {{"architectures", {"UMT5EncoderModel"}},
          {"d_ff", 256},
          {"d_kv", 64},
          {"d_model", 128},
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
          {"num_decoder_layers", 2},
          {"num_heads", 2},
          {"num_layers", 2},
          {"pad_token_id", 0},
          {"relative_attention_max_distance", 128},
          {"relative_attention_num_buckets", 32},
          {"scalable_attention", true},
          {"tie_word_embeddings", false},
          {"torch_dtype", "bfloat16"},
          {"vocab_size", vocab_size}};
}

ordered_json vae_config() {
  return {{"_class_name", "AutoencoderKLWan"},
          {"_diffusers_version", "0.33.0.dev0"},
          {"attn_scales", ordered_json::array()},
          {"base_dim", 16},
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

}  // namespace

void write_tiny_model(const std::filesystem::path& dir, uint64_t seed, bool overwrite) {
  namespace fs = std::filesystem;
  if (fs::exists(dir) && !overwrite) fail(dir.string(), " exists; pass --overwrite to replace it");
  const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  fs::create_directories(parent);
  const fs::path tmp =
      parent / str_cat(".", dir.filename().string(), ".tmp-", ::getpid());
  fs::remove_all(tmp);
  try {
    write_json(tmp / "model_index.json", {{"_class_name", "WanPipeline"},
                                          {"_diffusers_version", "0.33.0.dev0"},
                                          {"scheduler", {"diffusers", "UniPCMultistepScheduler"}},
                                          {"text_encoder", {"transformers", "UMT5EncoderModel"}},
                                          {"tokenizer", {"transformers", "T5TokenizerFast"}},
                                          {"transformer", {"diffusers", "WanTransformer3DModel"}},
                                          {"vae", {"diffusers", "AutoencoderKLWan"}}});

    write_tiny_tokenizer(tmp / "tokenizer");
    const int vocab = T5Tokenizer::load(tmp / "tokenizer").vocab_size();

    write_json(tmp / "transformer" / "config.json", transformer_config());
    auto dit = WanTransformerConfig::from_json(JsonFile::load(tmp / "transformer" / "config.json"));
    write_component(tmp / "transformer", "diffusion_pytorch_model",
                    tiny_weights(wan_transformer_specs(dit), seed), 2, DType::F32);

    write_json(tmp / "text_encoder" / "config.json", text_encoder_config(vocab));
    auto umt5 = Umt5Config::from_json(JsonFile::load(tmp / "text_encoder" / "config.json"));
    write_component(tmp / "text_encoder", "model", tiny_weights(umt5_encoder_specs(umt5), seed), 2,
                    DType::BF16);

    write_json(tmp / "vae" / "config.json", vae_config());
    auto vae = WanVaeConfig::from_json(JsonFile::load(tmp / "vae" / "config.json"));
    write_component(tmp / "vae", "diffusion_pytorch_model", tiny_weights(wan_vae_specs(vae), seed),
                    1, DType::F32);

    write_json(tmp / "scheduler" / "scheduler_config.json", scheduler_config());
    if (fs::exists(dir)) fs::remove_all(dir);
    fs::rename(tmp, dir);
  } catch (...) {
    fs::remove_all(tmp);
    throw;
  }
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
