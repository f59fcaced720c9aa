#include "models/umt5/umt5_config.h"

namespace fastvideo {

namespace {

// Upper bounds far above UMT5-XXL's sizes (vocab 256384, d_model 4096, 64 heads of 64, d_ff
// 10240, 24 layers): beyond them a config is corrupt.
constexpr int kMaxVocab = 1 << 22;
constexpr int kMaxWidth = 1 << 16;  // d_model
constexpr int kMaxFfnDim = 1 << 20;
constexpr int kMaxHeads = 1024;
constexpr int kMaxHeadDim = 1024;
constexpr int kMaxLayers = 1024;
constexpr int kMaxBuckets = 1024;
constexpr int kMaxDistance = 1 << 20;

}  // namespace

Umt5Config Umt5Config::from_json(const JsonFile& json) {
  Umt5Config c;
  c.vocab_size = json.get_in<int>("vocab_size", 1, kMaxVocab);
  c.d_model = json.get_in<int>("d_model", 1, kMaxWidth);
  c.d_kv = json.get_in<int>("d_kv", 1, kMaxHeadDim);
  c.num_heads = json.get_in<int>("num_heads", 1, kMaxHeads);
  c.d_ff = json.get_in<int>("d_ff", 1, kMaxFfnDim);
  c.num_layers = json.get_in<int>("num_layers", 1, kMaxLayers);
  c.relative_attention_num_buckets = json.get_in_or<int>(
      "relative_attention_num_buckets", c.relative_attention_num_buckets, 1, kMaxBuckets);
  c.relative_attention_max_distance = json.get_in_or<int>(
      "relative_attention_max_distance", c.relative_attention_max_distance, 1, kMaxDistance);
  c.layer_norm_epsilon = json.get_or<float>("layer_norm_epsilon", c.layer_norm_epsilon);
  c.feed_forward_proj = json.get_or<std::string>("feed_forward_proj", c.feed_forward_proj);

  // wan21.md §3.2: the bidirectional buckets split in two halves, each with 8 exact and 8
  // logarithmic buckets for 32; an odd count or a max distance inside the exact range is not T5.
  const int half = c.relative_attention_num_buckets / 2;
  FV_CHECK(c.relative_attention_num_buckets >= 4 && c.relative_attention_num_buckets % 2 == 0,
           json.origin(), ": key 'relative_attention_num_buckets' is ",
           c.relative_attention_num_buckets, ", expected an even number >= 4");
  FV_CHECK(c.relative_attention_max_distance > half / 2, json.origin(),
           ": key 'relative_attention_max_distance' is ", c.relative_attention_max_distance,
           ", expected more than ", half / 2);
  FV_CHECK(c.layer_norm_epsilon > 0, json.origin(), ": key 'layer_norm_epsilon' is ",
           c.layer_norm_epsilon, ", expected a positive number");
  FV_CHECK(c.feed_forward_proj == "gated-gelu", json.origin(), ": key 'feed_forward_proj' is ",
           json.quote("feed_forward_proj"),
           ", expected \"gated-gelu\" (the only UMT5 variant supported)");
  if (json.has("is_gated_act")) {
    FV_CHECK(json.get<bool>("is_gated_act"), json.origin(),
             ": key 'is_gated_act' is false, expected true for feed_forward_proj \"gated-gelu\"");
  }
  return c;
}

Umt5Config Umt5Config::from_checkpoint(const CheckpointFolder& checkpoint) {
  const Umt5Config c = from_json(checkpoint.config("text_encoder"));
  checkpoint.require_block_count("text_encoder", "num_layers", c.num_layers, "encoder.block.");
  return c;
}

}  // namespace fastvideo
