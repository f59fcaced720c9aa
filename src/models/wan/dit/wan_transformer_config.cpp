#include "models/wan/dit/wan_transformer_config.h"

#include <vector>

namespace fastvideo {

namespace {

[[noreturn]] void unsupported(const JsonFile& json, const std::string& key,
                              const std::string& expected) {
  fail(json.origin(), ": key '", key, "' has value ", json.quote(key), "; this engine supports ",
       expected);
}

// Upper bounds far above Wan2.1 14B's sizes (40 layers, 40 heads of 128, ffn 13824, text 4096):
// beyond them a config is corrupt.
constexpr int kMaxLayers = 1024;
constexpr int kMaxHeads = 1024;
constexpr int kMaxHeadDim = 1024;
constexpr int kMaxFfnDim = 1 << 20;
constexpr int kMaxWidth = 1 << 16;  // text_dim, freq_dim
constexpr int kMaxChannels = 1024;
constexpr int kMaxRopePositions = 1 << 20;

}  // namespace

WanTransformerConfig WanTransformerConfig::from_json(const JsonFile& json) {
  const std::string class_name = json.get<std::string>("_class_name");
  if (class_name != "WanTransformer3DModel") {
    unsupported(json, "_class_name", "only \"WanTransformer3DModel\"");
  }
  // wan21.md §0: T2V has no image branch; these keys are null in every T2V checkpoint.
  for (const char* key : {"image_dim", "added_kv_proj_dim", "pos_embed_seq_len"}) {
    if (json.has(key)) unsupported(json, key, "only null (text-to-video, no image branch)");
  }

  WanTransformerConfig c;
  c.num_attention_heads = json.get_in<int>("num_attention_heads", 1, kMaxHeads);
  c.attention_head_dim = json.get_in<int>("attention_head_dim", 1, kMaxHeadDim);
  c.num_layers = json.get_in<int>("num_layers", 1, kMaxLayers);
  c.ffn_dim = json.get_in<int>("ffn_dim", 1, kMaxFfnDim);
  c.in_channels = json.get_in_or("in_channels", c.in_channels, 1, kMaxChannels);
  // diffusers: out_channels = out_channels or in_channels.
  c.out_channels = json.get_in_or("out_channels", c.in_channels, 1, kMaxChannels);
  c.text_dim = json.get_in_or("text_dim", c.text_dim, 1, kMaxWidth);
  c.freq_dim = json.get_in_or("freq_dim", c.freq_dim, 1, kMaxWidth);
  c.rope_max_seq_len = json.get_in_or("rope_max_seq_len", c.rope_max_seq_len, 1, kMaxRopePositions);
  c.eps = json.get_or("eps", c.eps);
  if (!(c.eps > 0.0f)) unsupported(json, "eps", "only positive values");
  c.cross_attn_norm = json.get_or("cross_attn_norm", c.cross_attn_norm);
  // wan21.md §1.5: cross-attention always takes the affine norm2 in Wan2.1.
  if (!c.cross_attn_norm) unsupported(json, "cross_attn_norm", "only true");
  // null is diffusers' "no QK norm", not the default: refused by name like other values.
  if (json.json().contains("qk_norm") && json.json()["qk_norm"].is_null()) {
    unsupported(json, "qk_norm", "only \"rms_norm_across_heads\" (null, no QK norm, is not)");
  }
  c.qk_norm = json.get_or("qk_norm", c.qk_norm);
  if (c.qk_norm != "rms_norm_across_heads") {
    unsupported(json, "qk_norm", "only \"rms_norm_across_heads\"");
  }
  if (json.has("patch_size")) {
    const auto patch = json.get<std::vector<int>>("patch_size");
    if (patch != std::vector<int>{1, 2, 2}) unsupported(json, "patch_size", "only [1,2,2]");
  }
  if (c.freq_dim % 2 != 0) unsupported(json, "freq_dim", "only even values (cos and sin halves)");
  // wan21.md §1.4: the head dim splits into t/h/w RoPE ranges of d - 4·(d/6), 2·(d/6), 2·(d/6),
  // each made of whole (cos, sin) pairs.
  if (c.attention_head_dim % 2 != 0 || c.attention_head_dim < 6) {
    unsupported(json, "attention_head_dim",
                "only even values >= 6 (split into time/height/width RoPE pairs)");
  }
  return c;
}

WanTransformerConfig WanTransformerConfig::from_checkpoint(const CheckpointFolder& checkpoint) {
  const WanTransformerConfig c = from_json(checkpoint.config("transformer"));
  checkpoint.require_block_count("transformer", "num_layers", c.num_layers, "blocks.");
  return c;
}

}  // namespace fastvideo
