// The UMT5 text encoder (wan21.md §3): its tensor table, config parsing, the relative position
// buckets, and the forward pass on a tiny random model, including the §3.3 claim that running on
// the real tokens only equals the pipeline's masked run over padded ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <numbers>
#include <random>
#include <set>
#include <vector>

#include "io/checkpoint.h"
#include "models/umt5/relative_position_bucket.h"
#include "models/umt5/umt5_config.h"
#include "models/umt5/umt5_encoder.h"
#include "models/wan/wan_geometry.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

// The text_encoder/config.json shipped with Wan2.1 (UMT5-XXL), trimmed to the keys that matter.
const char* kXxlConfig = R"({
  "architectures": ["UMT5EncoderModel"], "d_ff": 10240, "d_kv": 64, "d_model": 4096,
  "dense_act_fn": "gelu_new", "feed_forward_proj": "gated-gelu", "is_gated_act": true,
  "layer_norm_epsilon": 1e-06, "model_type": "umt5", "num_decoder_layers": 24, "num_heads": 64,
  "num_layers": 24, "pad_token_id": 0, "eos_token_id": 1, "relative_attention_max_distance": 128,
  "relative_attention_num_buckets": 32, "vocab_size": 256384})";

Umt5Config config_from(const std::string& text) {
  return Umt5Config::from_json(JsonFile(nlohmann::json::parse(text), "text_encoder/config.json"));
}

// docs/tiny-model.md: d_model 128, 2 heads of 64, d_ff 256, 2 layers, vocab 384.
Umt5Config tiny_config() {
  return config_from(R"({"vocab_size": 384, "d_model": 128, "d_kv": 64, "num_heads": 2,
      "d_ff": 256, "num_layers": 2, "relative_attention_num_buckets": 32,
      "relative_attention_max_distance": 128, "layer_norm_epsilon": 1e-6,
      "feed_forward_proj": "gated-gelu", "is_gated_act": true})");
}

// Random weights scaled so activations stay O(1): gains near 1, projections ~1/√fan_in, bias
// tables O(1) so the relative position visibly matters.
Weights random_weights(const Umt5Config& c) {
  Weights w("text_encoder");
  for (const TensorSpec& spec : umt5_encoder_specs(c)) {
    Tensor t;
    if (spec.name.find("layer_norm") != std::string::npos) {
      t = randn(spec.shape, 0.1f);
      for (float& v : t.f32()) v += 1.0f;
    } else if (spec.name.find("relative_attention_bias") != std::string::npos ||
               spec.name == "shared.weight") {
      t = randn(spec.shape, 1.0f);
    } else {
      t = randn(spec.shape, 1.0f / std::sqrt(float(spec.shape[1])));
    }
    w.insert(spec.name, t);
  }
  return w;
}

std::vector<int32_t> random_ids(int n, int vocab) {
  std::mt19937 rng(std::random_device{}());
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = int32_t(2 + rng() % uint32_t(vocab - 2));  // no pad, no EOS
  ids.back() = 1;                                                      // EOS, as the tokenizer ends
  return ids;
}

// wan21.md §3.2's bidirectional bucket of r = key_pos − query_pos, written from the formula there
// rather than taken from relative_position_bucket: half the buckets for r > 0, |r| below a quarter
// of them exact, the rest logarithmic up to max_distance (float32 log, truncated toward 0).
int bucket_from_the_formula(int64_t r, int num_buckets, int max_distance) {
  const int half = num_buckets / 2, exact = half / 2;
  const int base = r > 0 ? half : 0;
  const int64_t n = r > 0 ? r : -r;
  if (n < exact) return base + int(n);
  const float log_bucket = std::log(float(n) / float(exact)) /
                           float(std::log(double(max_distance) / double(exact))) *
                           float(half - exact);
  return base + std::min(half - 1, exact + int(log_bucket));
}

// A second, plainly written UMT5 forward pass over all of `ids` (wan21.md §3.2), in double, where
// keys at positions >= n_real are masked with finfo(float32).min as transformers does. Every step
// is a loop here (the embedding, T5's RMSNorm, the projections, attention with the relative
// position bias, the gated GELU), none of them the ops the encoder runs, so it checks them.
Tensor reference_masked_encode(const Umt5Config& c, const Weights& w,
                               const std::vector<int32_t>& ids, int64_t n_real) {
  const int64_t L = int64_t(ids.size()), D = c.d_model, H = c.num_heads, dk = c.d_kv;
  const double eps = c.layer_norm_epsilon;
  using Rows = std::vector<double>;  // L rows, row-major
  // T5RMS(y)·g = y·rsqrt(mean(y²) + eps)·g per row, without the mean subtracted.
  auto rms_norm = [&](const Rows& x, const Tensor& gain) {
    const auto g = gain.f32();
    Rows y(x.size());
    for (int64_t i = 0; i < L; ++i) {
      double sum_sq = 0;
      for (int64_t d = 0; d < D; ++d) sum_sq += x[i * D + d] * x[i * D + d];
      const double r = 1.0 / std::sqrt(sum_sq / double(D) + eps);
      for (int64_t d = 0; d < D; ++d) y[i * D + d] = x[i * D + d] * r * g[d];
    }
    return y;
  };
  // x·Wᵀ for W [out, in]; T5's projections have no biases.
  auto project = [&](const Rows& x, const Tensor& weight) {
    const int64_t out = weight.size(0), in = weight.size(1);
    const auto pw = weight.f32();
    Rows y(size_t(L * out));
    for (int64_t i = 0; i < L; ++i)
      for (int64_t o = 0; o < out; ++o) {
        double acc = 0;
        for (int64_t k = 0; k < in; ++k) acc += x[i * in + k] * pw[o * in + k];
        y[i * out + o] = acc;
      }
    return y;
  };
  auto gelu_tanh = [](double v) {  // gelu_new: 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³)))
    return 0.5 * v *
           (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (v + 0.044715 * v * v * v)));
  };

  Rows x(size_t(L * D));
  const auto shared = w.get("shared.weight").f32();
  for (int64_t i = 0; i < L; ++i)
    for (int64_t d = 0; d < D; ++d) x[i * D + d] = shared[ids[i] * D + d];  // no √d scaling
  for (int l = 0; l < c.num_layers; ++l) {
    auto p = [&](const std::string& name) {
      return w.get("encoder.block." + std::to_string(l) + ".layer." + name);
    };
    const auto table = p("0.SelfAttention.relative_attention_bias.weight").f32();  // [buckets, H]
    Rows h = rms_norm(x, p("0.layer_norm.weight"));
    const Rows q = project(h, p("0.SelfAttention.q.weight")),
               k = project(h, p("0.SelfAttention.k.weight")),
               v = project(h, p("0.SelfAttention.v.weight"));  // [L, H·dk], head-major columns
    Rows a(size_t(L * H * dk), 0.0);
    Rows weight(static_cast<size_t>(L));  // one query's attention weights
    for (int64_t head = 0; head < H; ++head)
      for (int64_t i = 0; i < L; ++i) {
        // scores = q·kᵀ (no 1/√d_kv) + bias[bucket(j − i)] + mask, then softmax over j.
        double max = -INFINITY;
        for (int64_t j = 0; j < L; ++j) {
          const int b = bucket_from_the_formula(j - i, c.relative_attention_num_buckets,
                                                c.relative_attention_max_distance);
          double score = double(table[b * H + head]) + (j >= n_real ? -double(FLT_MAX) : 0.0);
          for (int64_t d = 0; d < dk; ++d)
            score += q[(i * H + head) * dk + d] * k[(j * H + head) * dk + d];
          weight[j] = score;
          max = std::max(max, score);
        }
        double sum = 0;
        for (int64_t j = 0; j < L; ++j) {
          weight[j] = std::exp(weight[j] - max);
          sum += weight[j];
        }
        for (int64_t j = 0; j < L; ++j)
          for (int64_t d = 0; d < dk; ++d)
            a[(i * H + head) * dk + d] += weight[j] / sum * v[(j * H + head) * dk + d];
      }
    const Rows attended = project(a, p("0.SelfAttention.o.weight"));
    for (size_t e = 0; e < x.size(); ++e) x[e] += attended[e];
    h = rms_norm(x, p("1.layer_norm.weight"));
    Rows gated = project(h, p("1.DenseReluDense.wi_0.weight"));
    const Rows linear = project(h, p("1.DenseReluDense.wi_1.weight"));
    for (size_t e = 0; e < gated.size(); ++e) gated[e] = gelu_tanh(gated[e]) * linear[e];
    const Rows fed = project(gated, p("1.DenseReluDense.wo.weight"));
    for (size_t e = 0; e < x.size(); ++e) x[e] += fed[e];
  }
  const Rows out = rms_norm(x, w.get("encoder.final_layer_norm.weight"));
  Tensor y = Tensor::empty({1, L, D}, DType::F32);
  for (size_t e = 0; e < out.size(); ++e) y.f32()[e] = float(out[e]);
  return y;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.f32().data(), b.f32().data(), a.nbytes()) == 0;
}

TEST(Umt5Config, ReadsTheXxlConfig) {
  Umt5Config c = config_from(kXxlConfig);
  EXPECT_EQ(c.vocab_size, 256384);
  EXPECT_EQ(c.d_model, 4096);
  EXPECT_EQ(c.d_kv, 64);
  EXPECT_EQ(c.num_heads, 64);
  EXPECT_EQ(c.d_ff, 10240);
  EXPECT_EQ(c.num_layers, 24);
  EXPECT_EQ(c.relative_attention_num_buckets, 32);
  EXPECT_EQ(c.relative_attention_max_distance, 128);
  EXPECT_FLOAT_EQ(c.layer_norm_epsilon, 1e-6f);
  EXPECT_EQ(c.feed_forward_proj, "gated-gelu");
}

TEST(Umt5Config, RejectsAnotherFeedForwardNamingFileKeyAndValue) {
  auto j = nlohmann::json::parse(kXxlConfig);
  j["feed_forward_proj"] = "relu";
  j["is_gated_act"] = false;
  try {
    Umt5Config::from_json(JsonFile(j, "text_encoder/config.json"));
    FAIL() << "feed_forward_proj relu accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("text_encoder/config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("feed_forward_proj"), std::string::npos) << msg;
    EXPECT_NE(msg.find("relu"), std::string::npos) << msg;
  }
}

TEST(Umt5Config, ASizeBeyondIntIsRefusedNotWrapped) {
  auto j = nlohmann::json::parse(kXxlConfig);
  j["d_ff"] = 1e12;
  try {
    Umt5Config::from_json(JsonFile(j, "text_encoder/config.json"));
    FAIL() << "d_ff 1e12 accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("text_encoder/config.json: key 'd_ff' has value 1000000000000"),
              std::string::npos)
        << msg;
  }
}

TEST(Umt5Config, EverySizeHasASaneUpperBound) {
  for (const char* key : {"vocab_size", "d_model", "d_kv", "num_heads", "d_ff", "num_layers",
                          "relative_attention_num_buckets", "relative_attention_max_distance"}) {
    auto j = nlohmann::json::parse(kXxlConfig);
    j[key] = 1'000'000'000;
    try {
      Umt5Config::from_json(JsonFile(j, "text_encoder/config.json"));
      ADD_FAILURE() << key << " = 1000000000 accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("text_encoder/config.json: key '") + key +
                         "' has value 1000000000, expected 1 to "),
                std::string::npos)
          << msg;
    }
  }
}

TEST(Umt5Config, MissingSizeKeyNamesTheKey) {
  auto j = nlohmann::json::parse(kXxlConfig);
  j.erase("d_ff");
  try {
    Umt5Config::from_json(JsonFile(j, "text_encoder/config.json"));
    FAIL() << "config without d_ff accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("d_ff"), std::string::npos) << e.what();
  }
}

TEST(Umt5Specs, XxlHas242UniqueTensorsWithTheReferenceShapes) {
  const auto specs = umt5_encoder_specs(config_from(kXxlConfig));
  EXPECT_EQ(specs.size(), 242u);
  std::set<std::string> names;
  for (const auto& s : specs) {
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate " << s.name;
    EXPECT_TRUE(s.used) << s.name;
  }
  auto shape_of = [&](const std::string& name) {
    for (const auto& s : specs)
      if (s.name == name) return s.shape;
    ADD_FAILURE() << "no spec " << name;
    return Shape{};
  };
  // wan21.md §3.1.
  EXPECT_EQ(shape_of("shared.weight"), (Shape{256384, 4096}));
  EXPECT_EQ(shape_of("encoder.block.23.layer.0.SelfAttention.q.weight"), (Shape{4096, 4096}));
  EXPECT_EQ(shape_of("encoder.block.23.layer.0.SelfAttention.relative_attention_bias.weight"),
            (Shape{32, 64}));
  EXPECT_EQ(shape_of("encoder.block.0.layer.1.DenseReluDense.wi_0.weight"), (Shape{10240, 4096}));
  EXPECT_EQ(shape_of("encoder.block.0.layer.1.DenseReluDense.wo.weight"), (Shape{4096, 10240}));
  EXPECT_EQ(shape_of("encoder.final_layer_norm.weight"), (Shape{4096}));
  EXPECT_EQ(names.count("encoder.embed_tokens.weight"), 0u) << "tied to shared.weight";
}

TEST(RelativePositionBucket, MatchesTheHandComputedTable) {
  // wan21.md §3.2 with 32 buckets, max distance 128: r > 0 adds 16; |r| < 8 is exact; else
  // 8 + trunc(8·ln(|r|/8)/ln 16) capped at 15. The log bucket k starts at |r| >= 8·16^(k/8):
  // 11.3 -> 12, 16, 22.6 -> 23, 32, 45.3 -> 46, 64, 90.5 -> 91, 128 (capped).
  const std::vector<std::pair<int, int>> table = {
      {0, 0},     {1, 17},   {-1, 1},    {5, 21},    {-5, 5},    {7, 23},   {-7, 7},    {8, 24},
      {-8, 8},    {11, 24},  {-11, 8},   {12, 25},   {-12, 9},   {15, 25},  {-15, 9},   {16, 26},
      {-16, 10},  {22, 26},  {-22, 10},  {23, 27},   {-23, 11},  {31, 27},  {-31, 11},  {32, 28},
      {-32, 12},  {45, 28},  {-45, 12},  {46, 29},   {-46, 13},  {63, 29},  {-63, 13},  {64, 30},
      {-64, 14},  {90, 30},  {-90, 14},  {91, 31},   {-91, 15},  {127, 31}, {-127, 15}, {128, 31},
      {-128, 15}, {200, 31}, {-200, 15}, {1000, 31}, {-1000, 15}};
  for (auto [r, expected] : table) {
    EXPECT_EQ(relative_position_bucket(r, 32, 128), expected) << "r = " << r;
  }
}

// UMT5's bias from its buckets: out[h, i, j] = table[bucket(j − i), h], the bucket from §3.2's
// formula; offsets from −(q_len − 1) to past max_distance, and a second bucket geometry.
TEST(RelativePositionBucket, BiasTakesRowBucketOfKeyMinusQueryPerHead) {
  const int64_t q_len = 13, k_len = 141, heads = 5;
  for (const auto [num_buckets, max_distance] : {std::pair{32, 128}, std::pair{20, 50}}) {
    Tensor table = randn({num_buckets, heads});
    Tensor bias = ops::relative_position_bias(
        table, relative_offset_buckets(q_len, k_len, num_buckets, max_distance), q_len, k_len);
    ASSERT_EQ(bias.shape(), (Shape{heads, q_len, k_len}));
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < q_len; ++i)
        for (int64_t j = 0; j < k_len; ++j) {
          const int b = bucket_from_the_formula(j - i, num_buckets, max_distance);
          ASSERT_EQ(bias.f32()[(h * q_len + i) * k_len + j], table.f32()[b * heads + h])
              << num_buckets << " buckets to " << max_distance << ": h " << h << " i " << i << " j "
              << j << " (bucket " << b << ")";
        }
  }
}

TEST(Umt5Encoder, CompileModeOnTheCpuIsRefusedNamingTheDevice) {
  const Umt5Config c = tiny_config();
  Umt5Encoder encoder(c, random_weights(c));
  try {
    encoder.enable_compile();
    FAIL() << "compile mode accepted on the CPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("text encoder runs on cpu"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(encoder.compiled());
}

TEST(Umt5Encoder, TinyEncodeIsFiniteAndDeterministic) {
  const Umt5Config c = tiny_config();
  Umt5Encoder encoder(c, random_weights(c));
  const auto ids = random_ids(150, c.vocab_size);  // offsets past max_distance
  Tensor a = encoder.encode(ids), b = encoder.encode(ids);
  ASSERT_EQ(a.shape(), (Shape{1, 150, 128}));
  EXPECT_TRUE(ops::all_finite(a));
  EXPECT_TRUE(bitwise_equal(a, b)) << "two runs on the same ids differ";
}

// text_encoder_cpu_offload: the weights read from the files a layer at a time give the resident
// encoder's bytes (on the CPU here; cuda_offload_test checks the GPU), with a bf16 checkpoint
// converted on the way as load_component converts it.
TEST(Umt5Encoder, StreamingFromTheFilesIsTheResidentEncoder) {
  const Umt5Config c = tiny_config();
  const Weights weights = random_weights(c);
  const std::filesystem::path dir = testing::temp_dir("umt5-stream") / "text_encoder";
  std::vector<std::pair<std::string, Tensor>> tensors(weights.all().begin(), weights.all().end());
  write_component(dir, "model", tensors, 2, DType::BF16);
  const auto specs = umt5_encoder_specs(c);
  const Umt5Encoder resident(c, load_component(dir, specs));
  const Umt5Encoder streamed(c, std::make_shared<const MappedComponent>(dir, specs), Device::cpu(),
                             DType::F32);
  const auto ids = random_ids(40, c.vocab_size);
  EXPECT_TRUE(bitwise_equal(streamed.encode_padded(ids, 64), resident.encode_padded(ids, 64)));
  EXPECT_TRUE(bitwise_equal(streamed.encode(ids), resident.encode(ids))) << "a second encode";
}

TEST(Umt5Encoder, EncodeMatchesAPlainlyWrittenForwardPass) {
  const Umt5Config c = tiny_config();
  Weights w = random_weights(c);
  Umt5Encoder encoder(c, w);
  const auto ids = random_ids(45, c.vocab_size);
  Tensor ref = reference_masked_encode(c, w, ids, int64_t(ids.size()));
  // Not DESIGN's 1e-6: T5 leaves the logits q·k unscaled (|q·k| reaches ~30 here), so their f32
  // rounding, a few ε·30 ≈ 1e-6 absolute, passes through softmax into every output; measured
  // 1.7e-6 on average, 2.7e-6 at worst over 100 draws (4e-7 with the logits scaled down tenfold).
  EXPECT_LT(rel_l2(encoder.encode(ids), ref), 1e-5);
}

TEST(Umt5Encoder, PaddedRowsAreExactZerosAfterTheRealTokens) {
  const Umt5Config c = tiny_config();
  Umt5Encoder encoder(c, random_weights(c));
  const auto ids = random_ids(23, c.vocab_size);
  Tensor padded = encoder.encode_padded(ids, WanGeometry::kTextLength);
  ASSERT_EQ(padded.shape(), (Shape{1, WanGeometry::kTextLength, 128}));
  EXPECT_TRUE(bitwise_equal(padded.slice(1, 0, 23).contiguous(), encoder.encode(ids)));
  const Tensor tail = padded.slice(1, 23, WanGeometry::kTextLength).contiguous();
  for (float v : tail.f32()) ASSERT_EQ(v, 0.0f);
  EXPECT_EQ(encoder.encode_padded(ids, 23).shape(), (Shape{1, 23, 128}));
  EXPECT_THROW(encoder.encode_padded(ids, 22), Error);
}

TEST(Umt5Encoder, RealTokensOnlyEqualTheMaskedPaddedRun) {
  // wan21.md §3.3: masked keys get zero weight and the bias depends only on j − i, so the first n
  // rows of the pipeline's masked run over padded ids equal the run on the n real tokens.
  const Umt5Config c = tiny_config();
  Weights w = random_weights(c);
  Umt5Encoder encoder(c, w);
  const int64_t n = 37, L = 160;
  auto ids = random_ids(int(n), c.vocab_size);
  std::vector<int32_t> padded_ids = ids;
  padded_ids.resize(size_t(L), 0);  // pad id 0
  Tensor masked = reference_masked_encode(c, w, padded_ids, n).slice(1, 0, n).contiguous();
  Tensor real_only = encoder.encode(ids);
  EXPECT_LT(rel_l2(real_only, masked), 1e-5);
  // Without the mask the padding leaks into the real rows: the comparison above has power.
  Tensor unmasked = reference_masked_encode(c, w, padded_ids, L).slice(1, 0, n).contiguous();
  EXPECT_GT(rel_l2(real_only, unmasked), 1e-3);
}

TEST(Umt5Encoder, TokenIdOutsideVocabularyNamesIdAndSize) {
  const Umt5Config c = tiny_config();
  Umt5Encoder encoder(c, random_weights(c));
  for (int32_t bad : {384, -1}) {
    std::vector<int32_t> ids = {5, bad, 1};
    try {
      encoder.encode(ids);
      FAIL() << "id " << bad << " accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("token id " + std::to_string(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("384"), std::string::npos) << msg;
    }
  }
}

TEST(Umt5Encoder, MissingOrMisshapenWeightIsNamed) {
  const Umt5Config c = tiny_config();
  Weights w = random_weights(c);
  w.insert("encoder.block.1.layer.1.DenseReluDense.wo.weight", randn({128, 255}));
  try {
    Umt5Encoder encoder(c, w);
    FAIL() << "misshapen wo accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.block.1.layer.1.DenseReluDense.wo.weight"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fastvideo
