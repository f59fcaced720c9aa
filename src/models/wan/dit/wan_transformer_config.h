// The transformer `config.json` of a diffusers Wan2.1 T2V checkpoint (wan21.md §0), validated
// against what this engine implements.
#pragma once

#include <array>
#include <string>

#include "io/checkpoint.h"
#include "io/json_file.h"

namespace fastvideo {

struct WanTransformerConfig {
  // Sizes have no default: from_json requires them.
  int num_attention_heads = 0;
  int attention_head_dim = 0;
  int num_layers = 0;
  int ffn_dim = 0;
  // The rest default to diffusers' values, which are also those of every Wan2.1 T2V checkpoint.
  int in_channels = 16;
  int out_channels = 16;
  int text_dim = 4096;
  int freq_dim = 256;
  std::array<int, 3> patch_size = {1, 2, 2};  // (t, h, w)
  float eps = 1e-6f;
  int rope_max_seq_len = 1024;  // RoPE positions per axis are 0 .. rope_max_seq_len-1
  bool cross_attn_norm = true;
  std::string qk_norm = "rms_norm_across_heads";

  int inner_dim() const { return num_attention_heads * attention_head_dim; }  // D
  int patch_volume() const { return patch_size[0] * patch_size[1] * patch_size[2]; }

  // The size keys (heads, head dim, layers, ffn_dim) are required; the rest default to the values
  // of diffusers' WanTransformer3DModel.__init__. Throws naming the file, the key and the value
  // for anything this engine does not implement (image branch, other q/k norms or patch sizes) and
  // for sizes beyond sane bounds.
  static WanTransformerConfig from_json(const JsonFile& json);
  // from_json on the checkpoint's transformer/config.json, with num_layers checked against the
  // blocks its weights hold (safetensors headers only): nothing is allocated for a config that
  // disagrees with its weights.
  static WanTransformerConfig from_checkpoint(const CheckpointFolder& checkpoint);
};

}  // namespace fastvideo
