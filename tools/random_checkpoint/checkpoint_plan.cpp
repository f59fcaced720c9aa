#include "random_checkpoint/checkpoint_plan.h"

#include "models/umt5/umt5_encoder.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/vae/wan_vae_specs.h"
#include "random_checkpoint/wan_checkpoint_configs.h"

namespace fastvideo {

namespace {

// huggingface_hub's default max_shard_size ("5GB"), with which the real repos were saved.
constexpr uint64_t kRealShardBytesF32 = 5'000'000'000ull;

// The same tensors per file as the F32 split, whatever the stored dtype.
ShardPlan real_shards(const std::vector<TensorSpec>& specs, const std::string& basename,
                      DType stored) {
  return plan_shards(specs, basename, stored, kRealShardBytesF32 * dtype_size(stored) / 4);
}

JsonFile as_json_file(const nlohmann::ordered_json& config, const std::string& origin) {
  return JsonFile(nlohmann::json::parse(config.dump()), origin);
}

}  // namespace

std::vector<ComponentPlan> plan_checkpoint(const WanModelPreset& preset, DType text_encoder_dtype,
                                           DType transformer_dtype) {
  FV_CHECK(preset.text_encoder.vocab != 0,
           "plan_checkpoint: the tiny model's layout is fixed (docs/tiny-model.md); plans are "
           "for the real sizes");
  const std::string origin = str_cat("built-in Wan2.1 ", preset.size_name, " ");
  std::vector<ComponentPlan> plan;

  const auto dit_json = wan_transformer_config_json(preset);
  const auto dit = WanTransformerConfig::from_json(as_json_file(dit_json, origin + "transformer"));
  std::vector<TensorSpec> dit_specs = wan_transformer_specs(dit);
  if (preset.pipeline == WanPipelineKind::Dmd) {
    const std::vector<TensorSpec> gates = fastwan_gate_specs(dit);
    dit_specs.insert(dit_specs.end(), gates.begin(), gates.end());
  }
  plan.push_back({"transformer", dit_json,
                  real_shards(dit_specs, "diffusion_pytorch_model", transformer_dtype)});

  const auto umt5_json = umt5_config_json(preset, preset.text_encoder.vocab, text_encoder_dtype);
  const auto umt5 = Umt5Config::from_json(as_json_file(umt5_json, origin + "text encoder"));
  plan.push_back({"text_encoder", umt5_json,
                  real_shards(umt5_encoder_specs(umt5), "model", text_encoder_dtype)});

  const auto vae_json = wan_vae_config_json(preset);
  const auto vae = WanVaeConfig::from_json(as_json_file(vae_json, origin + "vae"));
  plan.push_back(
      {"vae", vae_json, real_shards(wan_vae_specs(vae), "diffusion_pytorch_model", DType::F32)});
  return plan;
}

}  // namespace fastvideo
