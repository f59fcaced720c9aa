#include "models/umt5/umt5_config.h"

namespace fastvideo {

namespace {

int positive_int(const JsonFile& json, const std::string& key) {
  const int v = json.get<int>(key);
  FV_CHECK(v > 0, json.origin(), ": key '", key, "' is ", v, ", expected a positive integer");
  return v;
}

}  // namespace

Umt5Config Umt5Config::from_json(const JsonFile& json) {
  Umt5Config c;
  c.vocab_size = positive_int(json, "vocab_size");
  c.d_model = positive_int(json, "d_model");
  c.d_kv = positive_int(json, "d_kv");
  c.num_heads = positive_int(json, "num_heads");
  c.d_ff = positive_int(json, "d_ff");
  c.num_layers = positive_int(json, "num_layers");
  c.relative_attention_num_buckets =
      json.get_or<int>("relative_attention_num_buckets", c.relative_attention_num_buckets);
  c.relative_attention_max_distance =
      json.get_or<int>("relative_attention_max_distance", c.relative_attention_max_distance);
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

}  // namespace fastvideo
