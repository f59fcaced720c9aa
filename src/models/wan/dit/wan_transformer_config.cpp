#include "models/wan/dit/wan_transformer_config.h"

#include <vector>

namespace fastvideo {

namespace {

[[noreturn]] void unsupported(const JsonFile& json, const std::string& key,
                              const std::string& expected) {
  fail(json.origin(), ": key '", key, "' has value ", json.quote(key), "; this engine supports ",
       expected);
}

int positive(const JsonFile& json, const std::string& key, int value) {
  if (value <= 0) unsupported(json, key, "only positive values");
  return value;
}

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
  c.num_attention_heads =
      positive(json, "num_attention_heads", json.get<int>("num_attention_heads"));
  c.attention_head_dim = positive(json, "attention_head_dim", json.get<int>("attention_head_dim"));
  c.num_layers = positive(json, "num_layers", json.get<int>("num_layers"));
  c.ffn_dim = positive(json, "ffn_dim", json.get<int>("ffn_dim"));
  c.in_channels = positive(json, "in_channels", json.get_or("in_channels", c.in_channels));
  // diffusers: out_channels = out_channels or in_channels.
  c.out_channels = positive(json, "out_channels", json.get_or("out_channels", c.in_channels));
  c.text_dim = positive(json, "text_dim", json.get_or("text_dim", c.text_dim));
  c.freq_dim = positive(json, "freq_dim", json.get_or("freq_dim", c.freq_dim));
  c.rope_max_seq_len =
      positive(json, "rope_max_seq_len", json.get_or("rope_max_seq_len", c.rope_max_seq_len));
  c.eps = json.get_or("eps", c.eps);
  if (!(c.eps > 0.0f)) unsupported(json, "eps", "only positive values");
  c.cross_attn_norm = json.get_or("cross_attn_norm", c.cross_attn_norm);
  // wan21.md §1.5: cross-attention always takes the affine norm2 in Wan2.1.
  if (!c.cross_attn_norm) unsupported(json, "cross_attn_norm", "only true");
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

}  // namespace fastvideo
