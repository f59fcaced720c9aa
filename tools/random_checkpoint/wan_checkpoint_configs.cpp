#include "random_checkpoint/wan_checkpoint_configs.h"

namespace fastvideo {

using nlohmann::ordered_json;

ordered_json wan_transformer_config_json(const WanModelPreset& p) {
  return {{"_class_name", "WanTransformer3DModel"},
          {"_diffusers_version", "0.33.0.dev0"},
          {"added_kv_proj_dim", nullptr},
          {"attention_head_dim", 128},
          {"cross_attn_norm", true},
          {"eps", 1e-06},
          {"ffn_dim", p.transformer.ffn_dim},
          {"freq_dim", 256},
          {"image_dim", nullptr},
          {"in_channels", 16},
          {"num_attention_heads", p.transformer.heads},
          {"num_layers", p.transformer.layers},
          {"out_channels", 16},
          {"patch_size", {1, 2, 2}},
          {"qk_norm", "rms_norm_across_heads"},
          {"rope_max_seq_len", 1024},
          {"text_dim", p.transformer.text_dim}};
}

ordered_json umt5_config_json(const WanModelPreset& p, int vocab_size, DType stored) {
  return {{"architectures", {"UMT5EncoderModel"}},
          {"d_ff", p.text_encoder.d_ff},
          {"d_kv", 64},
          {"d_model", p.text_encoder.d_model},
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
          {"num_decoder_layers", p.text_encoder.layers},
          {"num_heads", p.text_encoder.heads},
          {"num_layers", p.text_encoder.layers},
          {"pad_token_id", 0},
          {"relative_attention_max_distance", 128},
          {"relative_attention_num_buckets", 32},
          {"scalable_attention", true},
          {"tie_word_embeddings", false},
          {"torch_dtype", stored == DType::F32 ? "float32" : "bfloat16"},
          {"vocab_size", vocab_size}};
}

ordered_json wan_vae_config_json(const WanModelPreset& p) {
  return {{"_class_name", "AutoencoderKLWan"},
          {"_diffusers_version", "0.33.0.dev0"},
          {"attn_scales", ordered_json::array()},
          {"base_dim", p.vae.base_dim},
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

ordered_json wan_scheduler_config_json() {
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

ordered_json wan_model_index_json(WanPipelineKind pipeline) {
  return {{"_class_name", wan_pipeline_class_name(pipeline)},
          {"_diffusers_version", "0.33.0.dev0"},
          {"scheduler", {"diffusers", "UniPCMultistepScheduler"}},
          {"text_encoder", {"transformers", "UMT5EncoderModel"}},
          {"tokenizer", {"transformers", "T5TokenizerFast"}},
          {"transformer", {"diffusers", "WanTransformer3DModel"}},
          {"vae", {"diffusers", "AutoencoderKLWan"}}};
}

std::vector<TensorSpec> fastwan_gate_specs(const WanTransformerConfig& config) {
  const int64_t dim = int64_t(config.num_attention_heads) * config.attention_head_dim;
  std::vector<TensorSpec> specs;
  for (int i = 0; i < config.num_layers; ++i) {
    const std::string gate = str_cat("blocks.", i, ".to_gate_compress.");
    specs.push_back({gate + "weight", {dim, dim}});
    specs.push_back({gate + "bias", {dim}});
  }
  return specs;
}

}  // namespace fastvideo
