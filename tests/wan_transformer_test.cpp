// Wan2.1 transformer (wan21.md §1): config validation, the tensor table, RoPE tables, the ops the
// model adds (patchify, unpatchify, apply_rope, timestep_embedding) against naive loops, and
// properties of the forward pass. Numerical agreement with the independent Python reference is
// checked by wan_transformer_golden_test.
#include "models/wan/dit/wan_transformer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <vector>

#include "attention/attention_registry.h"
#include "attention/sta_mask_strategy.h"
#include "models/wan/dit/wan_rope.h"
#include "models/wan/dit/wan_transformer_config.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/patchify.h"
#include "ops/rope.h"
#include "ops/timestep_embedding.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

// The transformer config.json of Wan-AI/Wan2.1-T2V-1.3B-Diffusers (wan21.md §0).
nlohmann::json config_1_3b_json() {
  return nlohmann::json::parse(R"({
    "_class_name": "WanTransformer3DModel", "_diffusers_version": "0.33.0.dev0",
    "added_kv_proj_dim": null, "attention_head_dim": 128, "cross_attn_norm": true,
    "eps": 1e-06, "ffn_dim": 8960, "freq_dim": 256, "image_dim": null, "in_channels": 16,
    "num_attention_heads": 12, "num_layers": 30, "out_channels": 16, "patch_size": [1, 2, 2],
    "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 1024, "text_dim": 4096})");
}

WanTransformerConfig config_from(nlohmann::json json) {
  return WanTransformerConfig::from_json(JsonFile(std::move(json), "transformer/config.json"));
}

// The tiny test configuration (docs/tiny-model.md): 2 heads of 128, 2 layers, ffn 512, text 128.
WanTransformerConfig tiny_config() {
  nlohmann::json json = config_1_3b_json();
  json["num_attention_heads"] = 2;
  json["num_layers"] = 2;
  json["ffn_dim"] = 512;
  json["text_dim"] = 128;
  return config_from(json);
}

// Random weights with activations O(1): N(0, 0.05²) everywhere, norm gains near 1; with extras,
// VSA's gates or SLA's proj_l in every block too.
Weights random_weights(const WanTransformerConfig& config, const WanBlockExtras& extras = {}) {
  Weights weights("transformer");
  for (const TensorSpec& spec : wan_transformer_specs(config, extras)) {
    Tensor t = randn(spec.shape, 0.05f);
    const bool gain = spec.name.find("norm") != std::string::npos &&
                      spec.name.find(".weight") != std::string::npos;
    if (gain) t = ops::add(t, Tensor::full(spec.shape, 1.0f));
    weights.insert(spec.name, t);
  }
  return weights;
}

using testing::error_of;

TEST(WanTransformerConfig, ReadsThe1_3BConfig) {
  const WanTransformerConfig c = config_from(config_1_3b_json());
  EXPECT_EQ(c.num_attention_heads, 12);
  EXPECT_EQ(c.attention_head_dim, 128);
  EXPECT_EQ(c.inner_dim(), 1536);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.ffn_dim, 8960);
  EXPECT_EQ(c.in_channels, 16);
  EXPECT_EQ(c.out_channels, 16);
  EXPECT_EQ(c.text_dim, 4096);
  EXPECT_EQ(c.freq_dim, 256);
  EXPECT_EQ(c.patch_size, (std::array<int, 3>{1, 2, 2}));
  EXPECT_FLOAT_EQ(c.eps, 1e-6f);
  EXPECT_EQ(c.rope_max_seq_len, 1024);
  EXPECT_TRUE(c.cross_attn_norm);
  EXPECT_EQ(c.qk_norm, "rms_norm_across_heads");
}

TEST(WanTransformerConfig, UnsupportedValuesAreErrorsNamingFileKeyAndValue) {
  struct Case {
    const char* key;
    nlohmann::json value;
    const char* shown;
  };
  const std::vector<Case> cases = {
      {"_class_name", "WanVACETransformer3DModel", "\"WanVACETransformer3DModel\""},
      {"image_dim", 1280, "1280"},
      {"added_kv_proj_dim", 5120, "5120"},
      {"qk_norm", "rms_norm", "\"rms_norm\""},
      // diffusers' "no QK norm", which used to read as the default.
      {"qk_norm", nullptr, "null, no QK norm, is not"},
      {"patch_size", {1, 4, 4}, "[1,4,4]"},
      {"attention_head_dim", 127, "127"},
      {"attention_head_dim", 4, "4"},
      {"cross_attn_norm", false, "false"},
      {"num_layers", 0, "0"},
      // Not wrapped to 2 or truncated to 2.
      {"num_layers", 4294967298u, "4294967298"},
      {"num_layers", 2.5, "2.5"},
  };
  for (const Case& c : cases) {
    nlohmann::json json = config_1_3b_json();
    json[c.key] = c.value;
    const std::string message = error_of([&] { config_from(json); });
    EXPECT_NE(message.find("transformer/config.json"), std::string::npos) << message;
    EXPECT_NE(message.find(std::string("'") + c.key + "'"), std::string::npos) << message;
    EXPECT_NE(message.find(c.shown), std::string::npos) << message;
  }
  nlohmann::json missing = config_1_3b_json();
  missing.erase("num_layers");
  EXPECT_NE(error_of([&] { config_from(missing); }).find("num_layers"), std::string::npos);
}

TEST(WanTransformerConfig, EverySizeHasASaneUpperBound) {
  for (const char* key :
       {"num_attention_heads", "attention_head_dim", "num_layers", "ffn_dim", "in_channels",
        "out_channels", "text_dim", "freq_dim", "rope_max_seq_len"}) {
    nlohmann::json json = config_1_3b_json();
    json[key] = 1'000'000'000;
    const std::string message = error_of([&] { config_from(json); });
    EXPECT_NE(message.find(std::string("transformer/config.json: key '") + key +
                           "' has value 1000000000, expected 1 to "),
              std::string::npos)
        << message;
  }
}

TEST(WanTransformerConfig, AHugeValueIsQuotedByItsStartAndSize) {
  nlohmann::json json = config_1_3b_json();
  json["_class_name"] = std::string(1'000'000, 'W');
  const std::string message = error_of([&] { config_from(json); });
  EXPECT_NE(message.find("'_class_name'"), std::string::npos) << message;
  EXPECT_NE(message.find("\"WWWW"), std::string::npos) << message;
  EXPECT_NE(message.find("... (1000002 bytes)"), std::string::npos) << message;
  EXPECT_LT(message.size(), 300u) << "the message quotes the whole value";
}

TEST(WanTransformerSpecs, The1_3BTableHas825TensorsWithTheReferenceShapes) {
  const auto specs = wan_transformer_specs(config_from(config_1_3b_json()));
  ASSERT_EQ(specs.size(), 825u);  // wan21.md §1.1: the index.json entry count
  std::map<std::string, Shape> by_name;
  int64_t params = 0;
  for (const TensorSpec& s : specs) {
    EXPECT_TRUE(by_name.emplace(s.name, s.shape).second) << "duplicate " << s.name;
    params += shape_numel(s.shape);
  }
  EXPECT_EQ(params, 1418996800);  // wan21.md §0
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"patch_embedding.weight", {1536, 16, 1, 2, 2}},
      {"condition_embedder.time_embedder.linear_1.weight", {1536, 256}},
      {"condition_embedder.time_proj.weight", {9216, 1536}},
      {"condition_embedder.time_proj.bias", {9216}},
      {"condition_embedder.text_embedder.linear_1.weight", {1536, 4096}},
      {"scale_shift_table", {1, 2, 1536}},
      {"proj_out.weight", {64, 1536}},
      {"proj_out.bias", {64}},
      {"blocks.0.scale_shift_table", {1, 6, 1536}},
      {"blocks.0.attn1.to_out.0.weight", {1536, 1536}},
      {"blocks.7.attn2.to_k.bias", {1536}},
      {"blocks.29.attn2.norm_k.weight", {1536}},
      {"blocks.29.norm2.bias", {1536}},
      {"blocks.29.ffn.net.0.proj.weight", {8960, 1536}},
      {"blocks.29.ffn.net.2.weight", {1536, 8960}},
  };
  for (const auto& [name, shape] : expected) {
    ASSERT_TRUE(by_name.count(name)) << name;
    EXPECT_EQ(by_name[name], shape) << name;
  }
  EXPECT_FALSE(by_name.count("blocks.30.norm2.bias"));
}

TEST(WanTransformerSpecs, CountIs15Plus27PerLayer) {
  for (int layers : {1, 2, 40}) {
    nlohmann::json json = config_1_3b_json();
    json["num_layers"] = layers;
    EXPECT_EQ(wan_transformer_specs(config_from(json)).size(), size_t(15 + 27 * layers));
  }
}

TEST(WanTransformerSpecs, Fp32KeepListIsTheTimeEmbedderModulationTablesAndNorm2) {
  // wan21.md §1.2: 4 time_embedder tensors, 1 + L scale_shift_tables, 2 norm2 tensors per block.
  nlohmann::json json = config_1_3b_json();
  const std::set<std::string> keep = wan_transformer_fp32_names(config_from(json));
  EXPECT_EQ(keep.size(), size_t(4 + 1 + 30 + 2 * 30));
  for (const char* name :
       {"condition_embedder.time_embedder.linear_1.weight",
        "condition_embedder.time_embedder.linear_2.bias", "scale_shift_table",
        "blocks.0.scale_shift_table", "blocks.29.norm2.weight", "blocks.7.norm2.bias"}) {
    EXPECT_EQ(keep.count(name), 1u) << name;
  }
  // q/k RMSNorm gains, time_proj, the text MLP and the matrices stay bf16.
  for (const char* name :
       {"blocks.0.attn1.norm_q.weight", "blocks.3.attn2.norm_k.weight",
        "condition_embedder.time_proj.weight", "condition_embedder.text_embedder.linear_1.weight",
        "patch_embedding.weight", "proj_out.bias", "blocks.0.ffn.net.0.proj.weight"}) {
    EXPECT_EQ(keep.count(name), 0u) << name;
  }
}

TEST(WanRope, HeadDim128SplitsInto44_42_42) {
  const WanRopeSplit s = wan_rope_split(128);
  EXPECT_EQ(s.t, 44);
  EXPECT_EQ(s.h, 42);
  EXPECT_EQ(s.w, 42);
}

// Reference: angle of pair p at (f, h, w) per wan21.md §1.4, in double.
double rope_angle(int64_t f, int64_t h, int64_t w, int p) {
  if (p < 22) return double(f) * std::pow(10000.0, -double(p) / 22.0);
  if (p < 43) return double(h) * std::pow(10000.0, -double(p - 22) / 21.0);
  return double(w) * std::pow(10000.0, -double(p - 43) / 21.0);
}

TEST(WanRope, TablesMatchTheFormulaInDouble) {
  for (std::array<int64_t, 3> grid :
       {std::array<int64_t, 3>{3, 5, 7}, {1024, 1, 1}, {1, 1024, 1}, {1, 1, 1024}}) {
    const WanRopeTables t = wan_rope_tables(grid, 128, 1024);
    const int64_t S = grid[0] * grid[1] * grid[2];
    ASSERT_EQ(t.cos.shape(), (Shape{S, 64}));
    ASSERT_EQ(t.sin.shape(), (Shape{S, 64}));
    double worst = 0;
    for (int64_t s = 0; s < S; ++s) {
      const int64_t f = s / (grid[1] * grid[2]), h = (s / grid[2]) % grid[1], w = s % grid[2];
      for (int p = 0; p < 64; ++p) {
        const double a = rope_angle(f, h, w, p);
        worst = testing::worse(worst, std::abs(t.cos.f32()[s * 64 + p] - std::cos(a)));
        worst = testing::worse(worst, std::abs(t.sin.f32()[s * 64 + p] - std::sin(a)));
      }
    }
    EXPECT_LT(worst, 1e-7) << "grid " << grid[0] << "x" << grid[1] << "x" << grid[2];
  }
  EXPECT_THROW(wan_rope_tables({1025, 1, 1}, 128, 1024), Error);
}

TEST(WanOps, ApplyRopeRotatesInterleavedPairs) {
  const int B = 2, S = 5, H = 3, D = 16;
  Tensor x = randn({B, S, H, D}), angle = randn({S, D / 2}, 3.0f);
  Tensor cos = Tensor::empty({S, D / 2}, DType::F32), sin = Tensor::empty({S, D / 2}, DType::F32);
  for (int i = 0; i < S * D / 2; ++i) {
    cos.f32()[i] = std::cos(angle.f32()[i]);
    sin.f32()[i] = std::sin(angle.f32()[i]);
  }
  Tensor y = ops::apply_rope(x, cos, sin);
  Tensor ref = Tensor::empty(x.shape(), DType::F32);
  for (int b = 0; b < B; ++b)
    for (int s = 0; s < S; ++s)
      for (int h = 0; h < H; ++h)
        for (int p = 0; p < D / 2; ++p) {
          const int64_t i = ((b * S + s) * H + h) * D + 2 * p;
          const double x0 = x.f32()[i], x1 = x.f32()[i + 1];
          const double c = cos.f32()[s * D / 2 + p], sn = sin.f32()[s * D / 2 + p];
          ref.f32()[i] = float(x0 * c - x1 * sn);
          ref.f32()[i + 1] = float(x0 * sn + x1 * c);
        }
  EXPECT_LT(rel_l2(y, ref), 1e-6);
}

TEST(WanOps, PatchifyFlattensChannelOutermost) {
  // wan21.md §1.3: v[c·4 + kh·2 + kw] = x[c, f, 2h+kh, 2w+kw], token = f·H'W' + h·W' + w.
  const int B = 2, C = 3, T = 2, H = 4, W = 6, Hp = 2, Wp = 3;
  Tensor x = randn({B, C, T, H, W});
  Tensor y = ops::patchify(x, {1, 2, 2});
  ASSERT_EQ(y.shape(), (Shape{B, T * Hp * Wp, C * 4}));
  for (int b = 0; b < B; ++b)
    for (int f = 0; f < T; ++f)
      for (int h = 0; h < Hp; ++h)
        for (int w = 0; w < Wp; ++w)
          for (int c = 0; c < C; ++c)
            for (int kh = 0; kh < 2; ++kh)
              for (int kw = 0; kw < 2; ++kw) {
                const float expected =
                    x.f32()[(((b * C + c) * T + f) * H + 2 * h + kh) * W + 2 * w + kw];
                const int token = (f * Hp + h) * Wp + w;
                ASSERT_EQ(y.f32()[(b * T * Hp * Wp + token) * C * 4 + c * 4 + kh * 2 + kw],
                          expected);
              }
}

TEST(WanOps, UnpatchifyReadsChannelInnermost) {
  // wan21.md §1.6: out[b, c, f, 2h+ph, 2w+pw] = y[b, token(f,h,w), ph·2C + pw·C + c].
  const int B = 2, C = 3, T = 2, Hp = 2, Wp = 3, S = T * Hp * Wp;
  Tensor y = randn({B, S, 4 * C});
  Tensor x = ops::unpatchify(y, {T, Hp, Wp}, {1, 2, 2});
  ASSERT_EQ(x.shape(), (Shape{B, C, T, 2 * Hp, 2 * Wp}));
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      for (int f = 0; f < T; ++f)
        for (int h = 0; h < Hp; ++h)
          for (int w = 0; w < Wp; ++w)
            for (int ph = 0; ph < 2; ++ph)
              for (int pw = 0; pw < 2; ++pw) {
                const int token = (f * Hp + h) * Wp + w;
                ASSERT_EQ(
                    x.f32()[(((b * C + c) * T + f) * 2 * Hp + 2 * h + ph) * 2 * Wp + 2 * w + pw],
                    y.f32()[(b * S + token) * 4 * C + ph * 2 * C + pw * C + c]);
              }
}

TEST(WanOps, UnpatchifyInvertsPatchifyThroughTheChannelPermutation) {
  // A proj_out that maps the patch-embedding order (c, kt, kh, kw) to the output order
  // (kt, kh, kw, c) makes unpatchify(linear(patchify(x))) the identity, for any patch size.
  const int C = 3;
  const std::array<int, 3> patch = {2, 1, 3};
  const int vol = 6;
  Tensor x = randn({2, C, 4, 5, 6});
  Tensor perm = Tensor::zeros({vol * C, vol * C}, DType::F32);
  for (int c = 0; c < C; ++c)
    for (int k = 0; k < vol; ++k) perm.f32()[(k * C + c) * vol * C + c * vol + k] = 1.0f;
  Tensor tokens = ops::linear(ops::patchify(x, patch), perm);
  Tensor back = ops::unpatchify(tokens, {2, 5, 2}, patch);
  ASSERT_EQ(back.shape(), x.shape());
  EXPECT_EQ(rel_l2(back, x), 0.0);
}

TEST(WanOps, TimestepEmbeddingIsCosThenSinOfGeometricFrequencies) {
  const std::vector<double> t = {0.0, 1.0, 437.0, 999.0};
  Tensor e = ops::timestep_embedding(t, 256);
  ASSERT_EQ(e.shape(), (Shape{4, 256}));
  double worst = 0;
  for (int b = 0; b < 4; ++b)
    for (int i = 0; i < 128; ++i) {
      const double a = t[b] * std::exp(-std::log(10000.0) * i / 128.0);
      worst = testing::worse(worst, std::abs(e.f32()[b * 256 + i] - std::cos(a)));
      worst = testing::worse(worst, std::abs(e.f32()[b * 256 + 128 + i] - std::sin(a)));
    }
  // The f32 argument t·ω carries up to ~999·2⁻²⁴ of rounding, as in the reference.
  EXPECT_LT(worst, 2e-4);
  EXPECT_EQ(e.f32()[0], 1.0f);    // cos(0)
  EXPECT_EQ(e.f32()[128], 0.0f);  // sin(0)
}

struct TinyForward {
  WanTransformerConfig config = tiny_config();
  WanTransformer model{config, random_weights(config)};
};

TEST(WanTransformer, RejectsAWeightOfTheWrongShapeNamingIt) {
  const WanTransformerConfig config = tiny_config();
  Weights weights = random_weights(config);
  weights.insert("blocks.1.attn1.to_q.weight", randn({256, 128}));
  const std::string message = error_of([&] { WanTransformer(config, weights); });
  EXPECT_NE(message.find("blocks.1.attn1.to_q.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("[256,256]"), std::string::npos) << message;
}

TEST(WanTransformer, TinyForwardIsFiniteDeterministicAndShapedLikeTheLatents) {
  TinyForward tiny;
  Tensor latents = randn({1, 16, 3, 8, 8}), context = randn({1, 512, 128});
  const std::vector<double> t = {999.0};
  const auto text = tiny.model.prepare_text(context);
  Tensor a = tiny.model.forward(latents, t, text);
  Tensor b = tiny.model.forward(latents, t, tiny.model.prepare_text(context));
  ASSERT_EQ(a.shape(), latents.shape());
  EXPECT_TRUE(ops::all_finite(a));
  EXPECT_EQ(rel_l2(a, b), 0.0) << "two identical forwards differ";
  // Not degenerate: the output depends on the timestep and on the text.
  const std::vector<double> t2 = {500.0};
  EXPECT_GT(rel_l2(tiny.model.forward(latents, t2, text), a), 1e-4);
  EXPECT_GT(
      rel_l2(tiny.model.forward(latents, t, tiny.model.prepare_text(randn({1, 512, 128}))), a),
      1e-4);
}

// A stop request made while a block runs ends the CPU forward before the next block, with
// Cancelled naming it; cleared, the same model runs the whole forward again.
TEST(WanTransformer, AStopRequestEndsTheCpuForwardBeforeTheNextBlock) {
  TinyForward tiny;
  const Tensor latents = randn({1, 16, 3, 8, 8});
  const std::vector<double> t = {999.0};
  const auto text = tiny.model.prepare_text(randn({1, 512, 128}));
  StopFlag stop;
  tiny.model.watch_stop(&stop);
  int blocks_run = 0;
  tiny.model.set_block_probe([&](int, const Tensor&) {
    ++blocks_run;
    stop.request();
  });
  ASSERT_GE(tiny.model.config().num_layers, 2);
  try {
    tiny.model.forward(latents, t, text);
    ADD_FAILURE() << "the stop request was ignored";
  } catch (const Cancelled& e) {
    // As the denoising loops report it (throw_stop_within).
    try {
      throw_stop_within(e, "denoising (step 3 of 50");
    } catch (const Cancelled& within) {
      EXPECT_EQ(std::string(within.what()),
                str_cat("stopped during denoising (step 3 of 50, transformer block 2 of ",
                        tiny.model.config().num_layers, ")"));
    }
    EXPECT_NE(std::string(e.what()).find(str_cat("stopped during transformer block 2 of ",
                                                 tiny.model.config().num_layers)),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(blocks_run, 1);
  stop.clear();
  blocks_run = 0;
  tiny.model.set_block_probe([&](int, const Tensor&) { ++blocks_run; });
  EXPECT_TRUE(ops::all_finite(tiny.model.forward(latents, t, text)));
  EXPECT_EQ(blocks_run, tiny.model.config().num_layers);
}

// FastVideo's transformer_quant FP8 (ops/fp8_linear.h): the blocks' ten linears become E4M3
// weights, and every block's output stays within cosine 0.995 of full precision (the issue's
// per-layer bar), the model output too; the embeddings and head stay as they were.
TEST(WanTransformer, Fp8LinearsStayCloseToFullPrecisionBlockByBlock) {
  TinyForward tiny;
  const Tensor latents = randn({1, 16, 3, 8, 8}), context = randn({1, 512, 128});
  const std::vector<double> t = {700.0};
  std::vector<Tensor> reference;
  tiny.model.set_block_probe([&](int, const Tensor& x) { reference.push_back(x.clone()); });
  const Tensor want = tiny.model.forward(latents, t, tiny.model.prepare_text(context));
  ASSERT_EQ(reference.size(), size_t(tiny.model.config().num_layers));
  tiny.model.quantize_linears_fp8();
  EXPECT_TRUE(tiny.model.fp8_linears());
  std::vector<double> cosines;
  tiny.model.set_block_probe(
      [&](int i, const Tensor& x) { cosines.push_back(testing::cosine(x, reference[size_t(i)])); });
  const Tensor got = tiny.model.forward(latents, t, tiny.model.prepare_text(context));
  ASSERT_EQ(cosines.size(), reference.size());
  for (size_t i = 0; i < cosines.size(); ++i) EXPECT_GE(cosines[i], 0.995) << "block " << i;
  EXPECT_GE(testing::cosine(got, want), 0.995);
  EXPECT_GT(rel_l2(got, want), 1e-4) << "FP8 changed nothing: were the linears quantized?";
  EXPECT_TRUE(ops::all_finite(got));
  tiny.model.quantize_linears_fp8();  // a second call changes nothing
  tiny.model.set_block_probe({});
  EXPECT_EQ(rel_l2(tiny.model.forward(latents, t, tiny.model.prepare_text(context)), got), 0.0);
}

// The sequence-parallel tests' model: 1.3B's layout at a size the CPU runs quickly, with 4 heads
// (divisible by 1, 2 and 4 ranks, not by 3).
WanTransformerConfig ranks_config() {
  nlohmann::json json = config_1_3b_json();
  json["num_attention_heads"] = 4;
  json["attention_head_dim"] = 32;
  json["num_layers"] = 2;
  json["ffn_dim"] = 256;
  json["text_dim"] = 128;
  return config_from(json);
}

// Ulysses sequence parallelism (issue 15, parallel/ulysses.h) on the CPU, its ranks as threads
// sharing one model: every rank's forward over its shard of the tokens (45, so padded) gives the
// one-rank output, batch 2, 4 heads over 1, 2 and 4 ranks; 3 ranks do not divide the heads.
TEST(WanTransformer, SequenceParallelForwardEqualsOneRank) {
  const WanTransformerConfig config = ranks_config();
  const WanTransformer model{config, random_weights(config)};
  const Tensor latents = randn({2, 16, 3, 6, 10}), context = randn({2, 512, 128});
  const std::vector<double> t = {900.0, 300.0};
  const auto text = model.prepare_text(context);
  const Tensor want = model.forward(latents, t, text);
  for (const int P : {1, 2, 4}) {
    std::mutex mutex;
    double worst = 0;
    run_local_group(P, [&](Communicator& comm) {
      const Tensor got = model.forward(latents, t, text, nullptr, &comm);
      std::lock_guard lock(mutex);
      worst = std::max(worst, rel_l2(got, want));
    });
    EXPECT_LE(worst, 1e-5) << P << " ranks";
  }
  const std::string m = error_of([&] {
    run_local_group(3,
                    [&](Communicator& comm) { model.forward(latents, t, text, nullptr, &comm); });
  });
  EXPECT_NE(m.find("4 attention heads do not divide among sp_size = 3"), std::string::npos) << m;
  // A backend with per-head settings: STA with a different window per head (the mask strategy of
  // FASTVIDEO_ATTENTION_CONFIG) on a 7×10×10 grid of 2×2×2 tiles. Each rank looks its heads up
  // by the model's head index, so the sharded forward is the one-rank forward again.
  const std::filesystem::path strategy = testing::temp_dir("sp-sta") / "mask.json";
  std::ofstream(strategy) << R"({"0_0_0": [1, 1, 1], "0_0_1": [2, 2, 2], "0_0_2": [1, 2, 1],
      "0_0_3": [2, 1, 2], "0_1_0": [2, 1, 1], "0_1_1": [1, 1, 2], "0_1_2": [2, 2, 1],
      "0_1_3": [1, 2, 2]})";
  ::setenv(kAttentionConfigEnv, strategy.c_str(), 1);
  const AttentionBackend& sta =
      AttentionBackendRegistry::builtin().get("SLIDING_TILE_ATTN", "test");
  const WanTransformer sta_model{config, random_weights(config), sta};
  const Tensor big = randn({1, 16, 7, 20, 20});
  const auto sta_text = sta_model.prepare_text(randn({1, 512, 128}));
  const auto md = sta.build_metadata({.step = 0, .grid = {7, 10, 10}});
  ::unsetenv(kAttentionConfigEnv);
  const std::vector<double> t1 = {500.0};
  const Tensor sta_want = sta_model.forward(big, t1, sta_text, md.get());
  double sta_worst = 0;
  std::mutex sta_mutex;
  run_local_group(4, [&](Communicator& comm) {
    const Tensor got = sta_model.forward(big, t1, sta_text, md.get(), &comm);
    std::lock_guard lock(sta_mutex);
    sta_worst = std::max(sta_worst, rel_l2(got, sta_want));
  });
  EXPECT_LE(sta_worst, 1e-5) << "STA's per-head windows under 4 ranks";
}

// Ulysses with the sparse and quantized backends that have a CPU path: each attends over the whole
// sequence of its heads after the exchange, so 2 and 4 ranks give the one-rank output again.
// VSA with its gates (G is exchanged like q, k and v) at sparsity 0.5 on a 5×6×7 grid (a partial
// tile on every axis), SLA with proj_l at topk_ratio 0.5, SAGE_ATTN (K smoothed over every token).
// Head dim 128 (VSA's only one), 210 tokens, so 4 ranks pad the sequence.
TEST(WanTransformer, SequenceParallelForwardEqualsOneRankWithTheSparseBackends) {
  nlohmann::json json = config_1_3b_json();
  json["num_attention_heads"] = 4;
  json["num_layers"] = 2;
  json["ffn_dim"] = 256;
  json["text_dim"] = 128;
  const WanTransformerConfig config = config_from(json);
  const Tensor latents = randn({1, 16, 5, 12, 14}), context = randn({1, 512, 128});
  const std::vector<double> t = {700.0};
  struct Case {
    const char* backend;
    WanBlockExtras extras;
    AttentionStepInfo step;
  };
  for (const Case& c : {Case{"VIDEO_SPARSE_ATTN",
                             {.gate = VsaGateLayout::InBlock},
                             {.grid = {5, 6, 7}, .sparsity = 0.5}},
                        Case{"SLA_ATTN", {.proj_l = true}, {.grid = {5, 6, 7}, .topk_ratio = 0.5}},
                        Case{"SAGE_ATTN", {}, {.grid = {5, 6, 7}}}}) {
    SCOPED_TRACE(c.backend);
    const AttentionBackend& backend = AttentionBackendRegistry::builtin().get(c.backend, "test");
    const WanTransformer model{config, random_weights(config, c.extras), backend};
    const auto text = model.prepare_text(context);
    const auto md = backend.build_metadata(c.step);
    const Tensor want = model.forward(latents, t, text, md.get());
    for (const int P : {2, 4}) {
      std::mutex mutex;
      double worst = 0;
      run_local_group(P, [&](Communicator& comm) {
        const Tensor got = model.forward(latents, t, text, md.get(), &comm);
        std::lock_guard lock(mutex);
        worst = std::max(worst, rel_l2(got, want));
      });
      // SAGE_ATTN quantizes: each rank projects its own rows, the BLAS may round a shard's rows
      // apart from the whole's in the last bit, and that can flip an INT8 or E4M3 rounding: 6e-5
      // on a 16-core H100 host (under 1e-5 on the 2-core CI machine). K smoothed over one rank's
      // tokens only would cost ~1e-2 (the quantization error), so 5e-4 still sees it.
      EXPECT_LE(worst, std::string_view(c.backend) == "SAGE_ATTN" ? 5e-4 : 1e-5) << P << " ranks";
    }
  }
}

// The same as a mode of the model (enable_sequence_parallel): a plain forward() runs every rank
// of the group (threads sharing this model on the CPU) and returns the one-rank output; a group
// the heads do not divide, replicas of the wrong count, and compile mode are refused by name.
TEST(WanTransformer, SequenceParallelModeRunsEveryRankBehindOneForward) {
  const WanTransformerConfig config = ranks_config();
  const Weights weights = random_weights(config);
  const WanTransformer one{config, weights};
  WanTransformer model{config, weights};
  const Tensor latents = randn({1, 16, 3, 6, 10}), context = randn({1, 512, 128});
  const std::vector<double> t = {600.0};
  const Tensor want = one.forward(latents, t, one.prepare_text(context));
  model.enable_sequence_parallel({}, make_local_group(4));
  EXPECT_EQ(model.sequence_parallel_size(), 4);
  EXPECT_LE(rel_l2(model.forward(latents, t, model.prepare_text(context)), want), 1e-5);
  WanTransformer other{config, weights};
  EXPECT_NE(error_of([&] {
              other.enable_sequence_parallel({}, make_local_group(3));
            }).find("4 attention heads do not divide among sp_size = 3"),
            std::string::npos);
  std::vector<std::unique_ptr<WanTransformer>> one_replica;
  one_replica.push_back(std::make_unique<WanTransformer>(config, weights));
  EXPECT_NE(error_of([&] {
              other.enable_sequence_parallel(std::move(one_replica), make_local_group(4));
            }).find("needs 3 replicas of the transformer (or none on the CPU), got 1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.enable_compile(); }).find("sequence parallelism (num_gpus > 1)"),
            std::string::npos);
}

// Compile mode and GEMM autotuning work on CUDA graphs and cuBLASLt: on the CPU each is refused by
// name (bench denoise --autotune ran on the CPU doing nothing).
TEST(WanTransformer, CompileModeAndGemmAutotuneNeedAGpu) {
  const WanTransformerConfig config = ranks_config();
  WanTransformer model{config, random_weights(config)};
  EXPECT_TRUE(testing::contains(error_of([&] { model.enable_compile(); }), "needs a GPU"));
  EXPECT_TRUE(testing::contains(error_of([&] { model.set_gemm_autotune(true); }),
                                "GEMM autotuning (compile mode max-autotune) times cuBLASLt's "
                                "GEMMs; the transformer is on cpu, so it needs a GPU"));
  model.set_gemm_autotune(false);
}

// CFG-parallel: forward_cfg runs the conditional pass on this model and the unconditional one on
// the partner at once (each itself sequence-parallel over two ranks here) and gives the two plain
// forwards; a context prepared before the pairing is refused by name.
TEST(WanTransformer, CfgParallelRunsBothPassesAtOnceWithTheirOwnResults) {
  const WanTransformerConfig config = ranks_config();
  const Weights weights = random_weights(config);
  const WanTransformer one{config, weights};
  WanTransformer model{config, weights};
  const Tensor latents = randn({1, 16, 3, 6, 10});
  const Tensor cond_context = randn({1, 512, 128}), uncond_context = randn({1, 512, 128});
  const std::vector<double> t = {800.0};
  const Tensor want_cond = one.forward(latents, t, one.prepare_text(cond_context));
  const Tensor want_uncond = one.forward(latents, t, one.prepare_text(uncond_context));
  const auto early = model.prepare_text(uncond_context);
  model.enable_sequence_parallel({}, make_local_group(2));
  auto partner = std::make_unique<WanTransformer>(config, weights);
  partner->enable_sequence_parallel({}, make_local_group(2));
  model.enable_cfg_parallel(std::move(partner));
  EXPECT_TRUE(model.cfg_parallel());
  const auto [cond, uncond] = model.forward_cfg(latents, t, model.prepare_text(cond_context),
                                                model.prepare_text(uncond_context), nullptr);
  EXPECT_LE(rel_l2(cond, want_cond), 1e-5);
  EXPECT_LE(rel_l2(uncond, want_uncond), 1e-5);
  EXPECT_NE(error_of([&] {
              model.forward_cfg(latents, t, model.prepare_text(cond_context), early, nullptr);
            }).find("has no partner context"),
            std::string::npos);
  EXPECT_NE(error_of([&] { model.enable_compile(); }).find("CFG-parallel"), std::string::npos);
}

// Sharded weights (use_fsdp_inference, issue 15) on the CPU: rank r's model keeps piece r of every
// block and each forward gathers the blocks over the group; over 1, 2 and 4 ranks the forward (and
// the text context, prepared as the group) is the whole-weights one. A sharded model without its
// group, ranks that do not hold their own pieces, and compile mode or FP8 are refused by name.
TEST(WanTransformer, ShardedWeightsGiveTheWholeWeightsForward) {
  const WanTransformerConfig config = ranks_config();
  const Weights weights = random_weights(config);
  const WanTransformer one{config, weights};
  const Tensor latents = randn({1, 16, 3, 6, 10}), context = randn({1, 512, 128});
  const std::vector<double> t = {700.0};
  const Tensor want = one.forward(latents, t, one.prepare_text(context));
  const auto sharded = [&](int rank, int ranks) {
    return std::make_unique<WanTransformer>(config, weights, torch_sdpa_backend(),
                                            torch_sdpa_backend(), std::nullopt,
                                            WanWeightSharding{Device::cpu(), rank, ranks});
  };
  for (const int P : {1, 2, 4}) {
    std::unique_ptr<WanTransformer> model = sharded(0, P);
    std::vector<std::unique_ptr<WanTransformer>> replicas;
    for (int r = 1; r < P; ++r) replicas.push_back(sharded(r, P));
    model->enable_sequence_parallel(std::move(replicas), make_local_group(P));
    EXPECT_TRUE(model->sharded_weights());
    EXPECT_LE(rel_l2(model->forward(latents, t, model->prepare_text(context)), want), 1e-5)
        << P << " ranks";
  }
  const std::unique_ptr<WanTransformer> alone = sharded(0, 2);
  EXPECT_TRUE(testing::contains(error_of([&] { alone->prepare_text(context); }),
                                "its weights are sharded (rank 0 of 2), so it runs only as that "
                                "rank of its group"));
  std::vector<std::unique_ptr<WanTransformer>> whole;
  whole.push_back(std::make_unique<WanTransformer>(config, weights));
  std::string m =
      error_of([&] { alone->enable_sequence_parallel(std::move(whole), make_local_group(2)); });
  EXPECT_TRUE(testing::contains(m, "rank 1's model has whole weights beside sharded ones")) << m;
  std::vector<std::unique_ptr<WanTransformer>> wrong;
  wrong.push_back(sharded(0, 2));
  m = error_of([&] { alone->enable_sequence_parallel(std::move(wrong), make_local_group(2)); });
  EXPECT_TRUE(testing::contains(m, "rank 1's model holds piece 0 of 2")) << m;
  m = error_of([&] { alone->enable_sequence_parallel({}, make_local_group(2)); });
  EXPECT_TRUE(
      testing::contains(m, "rank 1's model is missing (sharded weights need one model per rank)"))
      << m;
  EXPECT_TRUE(testing::contains(error_of([&] { alone->enable_compile(); }), "use_fsdp_inference"));
  EXPECT_TRUE(
      testing::contains(error_of([&] { alone->quantize_linears_fp8(); }), "use_fsdp_inference"));
  m = error_of([&] {
    WanTransformer(config, weights, torch_sdpa_backend(), torch_sdpa_backend(),
                   WanLayerwiseOffload{}, WanWeightSharding{Device::cpu(), 0, 1});
  });
  EXPECT_TRUE(testing::contains(m, "layerwise offload and sharded weights do not go together"))
      << m;
  // A NaN in a block is named by its tensor when the block is packed into this rank's piece.
  Weights damaged("transformer");
  for (const auto& [name, tensor] : weights.all()) damaged.insert(name, tensor.clone());
  damaged.get("blocks.1.attn1.to_q.weight").f32()[3] = std::nanf("");
  m = error_of([&] {
    WanTransformer(config, damaged, torch_sdpa_backend(), torch_sdpa_backend(), std::nullopt,
                   WanWeightSharding{Device::cpu(), 0, 2});
  });
  EXPECT_TRUE(testing::contains(m, "sharded weights: layer 1, attn1.to_q.weight holds NaN or Inf"))
      << m;
}

// forward_cfg as one forward of batch 2 (issue 11): the same two outputs as the two passes, for
// every pair of contexts (the joined context is rebuilt when a prompt changes); 0 tokens: never.
TEST(WanTransformer, CfgPassesAsOneBatchGiveTheTwoPasses) {
  TinyForward tiny;
  const Tensor latents = randn({1, 16, 3, 8, 8});
  const std::vector<double> t = {650.0};
  const auto cond = tiny.model.prepare_text(randn({1, 512, 128}));
  const auto uncond = tiny.model.prepare_text(randn({1, 512, 128}));
  const auto other = tiny.model.prepare_text(randn({1, 512, 128}));
  tiny.model.set_cfg_batch_tokens(0);
  const auto [want_cond, want_uncond] = tiny.model.forward_cfg(latents, t, cond, uncond, nullptr);
  const auto [want_other, unused] = tiny.model.forward_cfg(latents, t, other, uncond, nullptr);
  tiny.model.set_cfg_batch_tokens(1 << 20);
  for (int repeat = 0; repeat < 2; ++repeat) {
    const auto [c, u] = tiny.model.forward_cfg(latents, t, cond, uncond, nullptr);
    EXPECT_LT(rel_l2(c.contiguous(), want_cond), 1e-6);
    EXPECT_LT(rel_l2(u.contiguous(), want_uncond), 1e-6);
    EXPECT_EQ(c.shape(), want_cond.shape());
  }
  const auto [o, u] = tiny.model.forward_cfg(latents, t, other, uncond, nullptr);
  EXPECT_LT(rel_l2(o.contiguous(), want_other), 1e-6) << "a new prompt reused the old context";
  EXPECT_LT(rel_l2(u.contiguous(), want_uncond), 1e-6);
  tiny.model.release_cfg_batch();  // the next batch joins the pair again
  EXPECT_LT(rel_l2(tiny.model.forward_cfg(latents, t, cond, uncond, nullptr).first.contiguous(),
                   want_cond),
            1e-6);
  // Contexts that cannot be one batch (another text length) run as two passes.
  const auto shorter = tiny.model.prepare_text(randn({1, 300, 128}));
  const Tensor want_shorter = tiny.model.forward(latents, t, shorter);
  EXPECT_LT(rel_l2(tiny.model.forward_cfg(latents, t, shorter, uncond, nullptr).first.contiguous(),
                   want_shorter),
            1e-6);
}

TEST(WanTransformer, BatchOfTwoMatchesTwoSingleItemCalls) {
  // The CFG batch: cond and uncond in one call give the per-item results of separate calls.
  TinyForward tiny;
  Tensor latents = randn({2, 16, 3, 8, 8}), context = randn({2, 512, 128});
  const std::vector<double> t = {999.0, 733.0};
  Tensor both = tiny.model.forward(latents, t, tiny.model.prepare_text(context));
  for (int b = 0; b < 2; ++b) {
    Tensor one = tiny.model.forward(
        latents.slice(0, b, b + 1).contiguous(), std::span<const double>(&t[b], 1),
        tiny.model.prepare_text(context.slice(0, b, b + 1).contiguous()));
    EXPECT_LT(rel_l2(both.slice(0, b, b + 1).contiguous(), one), 1e-6) << "item " << b;
  }
}

TEST(WanTransformer, MismatchedInputsAreErrors) {
  TinyForward tiny;
  const auto text = tiny.model.prepare_text(randn({1, 512, 128}));
  const std::vector<double> t = {999.0};
  EXPECT_THROW(tiny.model.forward(randn({1, 15, 3, 8, 8}), t, text), Error);  // channels
  EXPECT_THROW(tiny.model.forward(randn({1, 16, 3, 7, 8}), t, text), Error);  // odd height
  EXPECT_THROW(tiny.model.forward(randn({2, 16, 3, 8, 8}), t, text), Error);  // text batch
  EXPECT_THROW(tiny.model.prepare_text(randn({1, 512, 64})), Error);          // text_dim
}

}  // namespace
}  // namespace fastvideo
