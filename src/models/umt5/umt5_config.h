// The UMT5 encoder's hyperparameters, read from the HF `text_encoder/config.json` (wan21.md §3.1).
#pragma once

#include <string>

#include "io/checkpoint.h"
#include "io/json_file.h"

namespace fastvideo {

// UMT5-XXL as shipped with Wan2.1 (wan21.md §3.1): vocab_size 256384, d_model 4096, d_kv 64,
// num_heads 64, d_ff 10240, num_layers 24, relative_attention_num_buckets 32,
// relative_attention_max_distance 128, layer_norm_epsilon 1e-6, feed_forward_proj "gated-gelu".
struct Umt5Config {
  int vocab_size = 0;
  int d_model = 0;
  int d_kv = 0;
  int num_heads = 0;
  int d_ff = 0;
  int num_layers = 0;  // encoder layers
  int relative_attention_num_buckets = 32;
  int relative_attention_max_distance = 128;
  float layer_norm_epsilon = 1e-6f;
  std::string feed_forward_proj = "gated-gelu";

  int inner_dim() const { return num_heads * d_kv; }

  // The sizes are required and bounded; the rest default as in transformers' UMT5Config. Only the
  // gated GELU feed-forward (gelu_new, the tanh approximation) is supported; anything else throws
  // naming the file, the key and the value.
  static Umt5Config from_json(const JsonFile& json);
  // from_json on the checkpoint's text_encoder/config.json, with num_layers checked against the
  // blocks its weights hold (safetensors headers only), before anything is allocated.
  static Umt5Config from_checkpoint(const CheckpointFolder& checkpoint);
};

}  // namespace fastvideo
