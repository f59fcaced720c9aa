// The Wan VAE: its tensor table against wan21.md §0/§2.3 counts, and the frame-by-frame cached
// decoder (channels-last) against the full-sequence formulation of §2.4, written here
// independently from the reference text on channels-first ops (conv3d, vae_reference_ops.h).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "models/wan/vae/video_frames.h"
#include "models/wan/vae/wan_vae_config.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "models/wan/vae/wan_vae_specs.h"
#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/rgb8_frames.h"
#include "ops/tensor_ops.h"
#include "random_vae_weights.h"
#include "test_util.h"
#include "vae_reference_ops.h"

namespace fastvideo {
namespace {

using testing::contains;
using testing::error_of;
using testing::randn;
using testing::rel_l2;

const std::vector<float> kLatentsMean{-0.7571, -0.7089, -0.9113, 0.1075,  -0.1745, 0.9653,
                                      -0.1517, 1.5508,  0.4134,  -0.0715, 0.5517,  -0.3632,
                                      -0.1922, -0.9497, 0.2503,  -0.2921};
const std::vector<float> kLatentsStd{2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708,
                                     2.6052, 2.0743, 3.2687, 2.1526, 2.8652, 1.5579,
                                     1.6382, 1.1253, 2.8251, 1.9160};

nlohmann::json config_json(int base_dim) {
  return {{"_class_name", "AutoencoderKLWan"},
          {"base_dim", base_dim},
          {"z_dim", 16},
          {"dim_mult", {1, 2, 4, 4}},
          {"num_res_blocks", 2},
          {"attn_scales", nlohmann::json::array()},
          {"temperal_downsample", {false, true, true}},
          {"dropout", 0.0},
          {"latents_mean", kLatentsMean},
          {"latents_std", kLatentsStd}};
}

WanVaeConfig config_with_base(int base_dim) {
  return WanVaeConfig::from_json(JsonFile(config_json(base_dim), "vae/config.json"));
}

// ---- The full-sequence formulation of wan21.md §2.4, from the reference text. ----

struct FullSequenceDecoder {
  const WanVaeConfig& c;
  const Weights& w;

  const Tensor& get(const std::string& name) const { return w.get(name); }

  // "Every 3×3×3 causal conv is a normal conv with 2 zero frames prepended to the whole
  // sequence and 'same' spatial padding."
  Tensor causal_conv3(const Tensor& x, const std::string& p) const {
    return ops::conv3d(x, get(p + ".weight"), get(p + ".bias"), {2, 0, 1, 1});
  }
  Tensor pointwise_conv(const Tensor& x, const std::string& p) const {
    return ops::conv3d(x, get(p + ".weight"), get(p + ".bias"));
  }
  Tensor residual(const Tensor& x, const std::string& p, bool shortcut) const {
    Tensor h = ops::silu(testing::rms_norm_channels(x, get(p + ".norm1.gamma")));
    h = causal_conv3(h, p + ".conv1");
    h = ops::silu(testing::rms_norm_channels(h, get(p + ".norm2.gamma")));
    h = causal_conv3(h, p + ".conv2");
    return ops::add(h, shortcut ? pointwise_conv(x, p + ".conv_shortcut") : x);
  }
  // Single head, per frame, head_dim = C; q/k/v are channel slices of to_qkv's output.
  Tensor attention(const Tensor& x, const std::string& p) const {
    const int64_t B = x.size(0), C = x.size(1), T = x.size(2), H = x.size(3), W = x.size(4);
    const Tensor n = testing::rms_norm_channels(x, get(p + ".norm.gamma"));
    const Tensor qkv = ops::conv3d(n, get(p + ".to_qkv.weight").unsqueeze(2),
                                   get(p + ".to_qkv.bias"));  // [B, 3C, T, H, W]
    std::vector<Tensor> frames;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        // [3C, H·W] -> tokens [1, H·W, 1, C] for each of q, k, v
        const Tensor f = qkv.select(0, b).select(1, t).contiguous().reshape({3 * C, H * W});
        const auto part = [&](int i) {
          return f.slice(0, i * C, (i + 1) * C)
              .transpose(0, 1)
              .contiguous()
              .reshape({1, H * W, 1, C});
        };
        const Tensor o = ops::attention(part(0), part(1), part(2), 1.0f / std::sqrt(float(C)));
        const Tensor img = o.reshape({H * W, C}).transpose(0, 1).contiguous().reshape({1, C, H, W});
        frames.push_back(testing::conv2d(img, get(p + ".proj.weight"), get(p + ".proj.bias")));
      }
    // frames are ordered (b, t): stack them back as [B, C, T, H, W]
    std::vector<Tensor> per_batch;
    for (int64_t b = 0; b < B; ++b) {
      std::vector<Tensor> ts;
      for (int64_t t = 0; t < T; ++t) ts.push_back(frames[size_t(b * T + t)].unsqueeze(2));
      per_batch.push_back(ops::concat(ts, 2));
    }
    return ops::add(ops::concat(per_batch, 0), x);
  }
  // "Spatial ×2 nearest and Conv2d on every frame."
  Tensor spatial_up(const Tensor& x, const std::string& p) const {
    std::vector<Tensor> frames;
    for (int64_t t = 0; t < x.size(2); ++t) {
      const Tensor f = testing::upsample_nearest2x(x.select(2, t).contiguous());
      frames.push_back(
          testing::conv2d(f, get(p + ".resample.1.weight"), get(p + ".resample.1.bias"), 1, 1)
              .unsqueeze(2));
    }
    return ops::concat(frames, 2);
  }
  // "The output sequence is [x_0] followed by interleave(g0_j, g1_j) for j = 1..n−1, g =
  // time_conv applied causally (2 zero frames in front) to x_1..x_{n−1} only."
  Tensor temporal_up(const Tensor& x, const std::string& p) const {
    const int64_t C = x.size(1), n = x.size(2);
    std::vector<Tensor> out{x.slice(2, 0, 1)};
    if (n > 1) {
      const Tensor g = ops::conv3d(x.slice(2, 1, n), get(p + ".time_conv.weight"),
                                   get(p + ".time_conv.bias"), {2, 0, 0, 0});
      for (int64_t j = 0; j < n - 1; ++j) {
        out.push_back(g.slice(1, 0, C).slice(2, j, j + 1));
        out.push_back(g.slice(1, C, 2 * C).slice(2, j, j + 1));
      }
    }
    return ops::concat(out, 2);
  }

  Tensor decode(const Tensor& latents) const {
    // z_vae = z·std[c] + mean[c]
    Tensor z = latents.clone();
    const int64_t B = z.size(0), Z = z.size(1), per = z.numel() / (B * Z);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t ch = 0; ch < Z; ++ch)
        for (int64_t i = 0; i < per; ++i) {
          float& v = z.f32()[(b * Z + ch) * per + i];
          v = v * c.latents_std[size_t(ch)] + c.latents_mean[size_t(ch)];
        }
    Tensor x = pointwise_conv(z, "post_quant_conv");
    x = causal_conv3(x, "decoder.conv_in");
    x = residual(x, "decoder.mid_block.resnets.0", false);
    x = attention(x, "decoder.mid_block.attentions.0");
    x = residual(x, "decoder.mid_block.resnets.1", false);
    const std::vector<bool> temporal = c.temporal_upsample();
    for (int i = 0; i < c.num_levels(); ++i) {
      const std::string p = "decoder.up_blocks." + std::to_string(i);
      for (int r = 0; r <= c.num_res_blocks; ++r)
        x = residual(x, p + ".resnets." + std::to_string(r), x.size(1) != c.decoder_dims()[i + 1]);
      if (i + 1 == c.num_levels()) continue;
      if (temporal[size_t(i)]) x = temporal_up(x, p + ".upsamplers.0");
      x = spatial_up(x, p + ".upsamplers.0");
    }
    x = ops::silu(testing::rms_norm_channels(x, get("decoder.norm_out.gamma")));
    return ops::clamp(causal_conv3(x, "decoder.conv_out"), -1.0f, 1.0f);
  }
};

// ---- Tensor table ----

TEST(WanVae, SpecsMatchTheRealCheckpointCounts) {
  const std::vector<TensorSpec> specs = wan_vae_specs(config_with_base(96));
  std::map<std::string, int64_t> params;  // by top-level prefix
  int decoder_tensors = 0;
  for (const TensorSpec& s : specs) {
    const std::string top = s.name.substr(0, s.name.find('.'));
    params[top] += shape_numel(s.shape);
    const bool decoder_side = top == "decoder" || top == "post_quant_conv";
    EXPECT_EQ(s.used, decoder_side) << s.name;
    decoder_tensors += decoder_side;
  }
  // wan21.md §2.3: 108 decoder tensors incl. post_quant_conv; §0: parameter totals.
  EXPECT_EQ(decoder_tensors, 108);
  EXPECT_EQ(params["decoder"], 73'295'331);
  EXPECT_EQ(params["post_quant_conv"], 272);
  EXPECT_EQ(params["encoder"], 53'595'872);
  EXPECT_EQ(params["quant_conv"], 1'056);
  EXPECT_EQ(params.size(), 4u);
  int64_t total = 0;
  for (const auto& [name, n] : params) total += n;
  EXPECT_EQ(total, 126'892'531);
}

TEST(WanVae, SpecsHaveTheDocumentedDecoderShapes) {
  std::map<std::string, Shape> shapes;
  for (const TensorSpec& s : wan_vae_specs(config_with_base(96))) {
    EXPECT_TRUE(shapes.emplace(s.name, s.shape).second) << "duplicate " << s.name;
  }
  // wan21.md §2.3 table
  EXPECT_EQ(shapes["decoder.up_blocks.0.upsamplers.0.time_conv.weight"],
            (Shape{768, 384, 3, 1, 1}));
  EXPECT_EQ(shapes["decoder.up_blocks.0.upsamplers.0.resample.1.weight"], (Shape{192, 384, 3, 3}));
  EXPECT_EQ(shapes["decoder.up_blocks.1.resnets.0.conv_shortcut.weight"],
            (Shape{384, 192, 1, 1, 1}));
  EXPECT_EQ(shapes["decoder.up_blocks.2.upsamplers.0.resample.1.weight"], (Shape{96, 192, 3, 3}));
  EXPECT_EQ(shapes.count("decoder.up_blocks.2.upsamplers.0.time_conv.weight"), 0u);
  EXPECT_EQ(shapes.count("decoder.up_blocks.3.upsamplers.0.resample.1.weight"), 0u);
  EXPECT_EQ(shapes["decoder.mid_block.attentions.0.norm.gamma"], (Shape{384, 1, 1}));
  EXPECT_EQ(shapes["decoder.norm_out.gamma"], (Shape{96, 1, 1, 1}));
  EXPECT_EQ(shapes["decoder.conv_out.weight"], (Shape{3, 96, 3, 3, 3}));
  // §2.5 encoder
  EXPECT_EQ(shapes["encoder.down_blocks.8.time_conv.weight"], (Shape{384, 384, 3, 1, 1}));
  EXPECT_EQ(shapes.count("encoder.down_blocks.2.time_conv.weight"), 0u);
  EXPECT_EQ(shapes["encoder.down_blocks.6.conv_shortcut.weight"], (Shape{384, 192, 1, 1, 1}));
  EXPECT_EQ(shapes["encoder.conv_out.weight"], (Shape{32, 384, 3, 3, 3}));
  EXPECT_EQ(shapes["quant_conv.weight"], (Shape{32, 32, 1, 1, 1}));
}

// ---- Config ----

std::string config_error(const nlohmann::json& j) {
  try {
    WanVaeConfig::from_json(JsonFile(j, "vae/config.json"));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WanVae, ConfigRejectsInconsistentValuesNamingFileAndKey) {
  nlohmann::json j = config_json(96);
  j["latents_std"] = std::vector<float>(15, 1.0f);
  EXPECT_NE(config_error(j).find("vae/config.json: key 'latents_std' has 15 values"),
            std::string::npos)
      << config_error(j);
  j = config_json(96);
  j["temperal_downsample"] = {true};
  EXPECT_NE(config_error(j).find("'temperal_downsample'"), std::string::npos);
  j = config_json(96);
  j["attn_scales"] = {1.0};
  EXPECT_NE(config_error(j).find("'attn_scales' has value [1.0]"), std::string::npos)
      << config_error(j);
  j = config_json(96);
  j.erase("z_dim");
  EXPECT_NE(config_error(j).find("missing key 'z_dim'"), std::string::npos);
  EXPECT_EQ(config_error(config_json(96)), "");
}

// All-zero scales gave a video that ignores prompt and seed.
TEST(WanVae, LatentScalesMustBePositiveAndNormalisationFinite) {
  nlohmann::json zeros = config_json(96);
  zeros["latents_std"] = std::vector<float>(16, 0.0f);
  EXPECT_NE(config_error(zeros).find("vae/config.json: key 'latents_std[0]' has value 0, expected "
                                     "a positive scale"),
            std::string::npos)
      << config_error(zeros);
  struct Case {
    const char* key;
    int index;
    double value;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"latents_std", 3, -1.5, "key 'latents_std[3]' has value -1.5"},
           {"latents_std", 5, 1e39, "key 'latents_std[5]' has value 1e+39"},  // inf as a float
           {"latents_mean", 7, -1e39, "key 'latents_mean[7]' has value -1e+39"},
           {"latents_std", 2, std::nan(""), "key 'latents_std[2]'"}}) {
    nlohmann::json j = config_json(96);
    j[c.key][c.index] = c.value;
    EXPECT_NE(config_error(j).find(c.message), std::string::npos) << config_error(j);
  }
}

TEST(WanVae, EverySizeHasASaneUpperBound) {
  for (const char* key : {"base_dim", "z_dim", "num_res_blocks"}) {
    nlohmann::json j = config_json(96);
    j[key] = 1'000'000'000;
    EXPECT_NE(config_error(j).find(std::string("vae/config.json: key '") + key +
                                   "' has value 1000000000, expected 1 to "),
              std::string::npos)
        << config_error(j);
  }
  nlohmann::json j = config_json(96);
  j["dim_mult"] = {1, 2, 1'000'000'000, 4};
  EXPECT_NE(config_error(j).find("key 'dim_mult[2]' has value 1000000000, expected 1 to "),
            std::string::npos)
      << config_error(j);
  j = config_json(96);
  j["dim_mult"] = std::vector<int>(1000, 1);
  j["temperal_downsample"] = std::vector<bool>(999, false);
  EXPECT_NE(config_error(j).find("key 'dim_mult' has 1000 entries, expected 1 to "),
            std::string::npos)
      << config_error(j);
}

// ---- Decoder ----

TEST(WanVae, ChunkedDecodeEqualsFullSequenceFormulation) {
  const WanVaeConfig config = config_with_base(8);
  const Weights weights = testing::random_vae_weights(config);
  // Five latent frames: from the fourth chunk on every cache holds two frames (the steady state
  // the GPU's compile mode replays).
  const Tensor latents = randn({1, 16, 5, 4, 4});
  const Tensor chunked = WanVaeDecoder(config, weights).decode(latents);
  const Tensor full = FullSequenceDecoder{config, weights}.decode(latents);
  ASSERT_EQ(chunked.shape(), (Shape{1, 3, 17, 32, 32}));
  ASSERT_EQ(full.shape(), chunked.shape());
  // Not a degenerate comparison: most outputs are inside (−1, 1), not clamped.
  int64_t interior = 0;
  for (float v : full.f32()) interior += std::abs(v) < 0.999f;
  EXPECT_GT(interior, full.numel() / 2);
  EXPECT_LT(rel_l2(chunked, full), 1e-5);
}

TEST(WanVae, DecodeGivesOnePlusFourTimesLaterFramesFiniteAndDeterministic) {
  const WanVaeConfig config = config_with_base(8);
  const WanVaeDecoder decoder(config, testing::random_vae_weights(config));
  for (int64_t T : {1, 2, 3}) {
    const Tensor latents = randn({1, 16, T, 2, 3});
    const Tensor a = decoder.decode(latents);
    EXPECT_EQ(a.shape(), (Shape{1, 3, 1 + 4 * (T - 1), 16, 24})) << "T = " << T;
    EXPECT_TRUE(ops::all_finite(a)) << "T = " << T;
    const Tensor b = decoder.decode(latents);
    EXPECT_EQ(rel_l2(a, b), 0.0) << "T = " << T;
  }
}

// A stop request ends a decode before its next latent frame (and, tiled, its next tile), with
// Cancelled naming where; without one the same decoder decodes normally.
TEST(WanVae, AStopRequestEndsTheDecodeBeforeTheNextFrame) {
  const WanVaeConfig config = config_with_base(8);
  WanVaeDecoder decoder(config, testing::random_vae_weights(config));
  StopFlag stop;
  decoder.watch_stop(&stop);
  const Tensor latents = randn({1, 16, 3, 2, 3});
  stop.request();
  for (const auto& tiling :
       {std::optional<VaeTiling>(), std::optional<VaeTiling>(VaeTiling{8, 8, 8, 8})}) {
    try {
      decoder.decode(latents, tiling);
      ADD_FAILURE() << "the stop request was ignored" << (tiling ? " (tiled)" : "");
    } catch (const Cancelled& e) {
      EXPECT_NE(std::string(e.what()).find("the decode (latent frame 1 of 3)"), std::string::npos)
          << e.what();
    }
  }
  stop.clear();
  EXPECT_EQ(decoder.decode(latents).size(2), 9);
}

TEST(WanVae, CompileModeOnTheCpuIsRefusedByName) {
  const WanVaeConfig config = config_with_base(8);
  WanVaeDecoder decoder(config, testing::random_vae_weights(config));
  try {
    decoder.enable_compile();
    ADD_FAILURE() << "enable_compile on the CPU did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("compile.vae_enabled"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(decoder.compiled());
}

TEST(WanVae, BatchItemsDecodeIndependently) {
  const WanVaeConfig config = config_with_base(8);
  const WanVaeDecoder decoder(config, testing::random_vae_weights(config));
  const Tensor latents = randn({2, 16, 2, 2, 2});
  const Tensor both = decoder.decode(latents);
  const Tensor second = decoder.decode(latents.slice(0, 1, 2).contiguous());
  // The batch of two runs its convolutions as larger GEMMs, summed in another order: on 200 fresh
  // draws the items differed by 5.5e-7 to 1.4e-6 (median 8.7e-7; the old bound of 1e-6 failed
  // about one run in five). An item that read the other's data would be off by O(1).
  EXPECT_LT(rel_l2(both.slice(0, 1, 2).contiguous(), second), 1e-5);
}

// ---- uint8 conversion ----

TEST(WanVae, FramesFromDecoderTruncatesHalfShiftedValues) {
  const std::vector<float> values{-1.0f, 1.0f, 0.0f, 0.5f, -2.0f, 3.0f};  // one row of 6 pixels
  Tensor video = Tensor::zeros({1, 3, 2, 1, 6}, DType::F32);
  for (int c = 0; c < 3; ++c)
    for (int w = 0; w < 6; ++w) video.f32()[(c * 2 + 1) * 6 + w] = values[size_t(w)] * (c + 1) / 3;
  const Video v = frames_from_decoder(video, 16.0);
  ASSERT_EQ(v.frames, 2);
  ASSERT_EQ(v.height, 1);
  ASSERT_EQ(v.width, 6);
  EXPECT_EQ(v.fps, 16.0);
  ASSERT_EQ(v.rgb.size(), 36u);
  for (int c = 0; c < 3; ++c)
    for (int w = 0; w < 6; ++w) {
      const float x = values[size_t(w)] * (c + 1) / 3;
      const float unit = std::min(1.0f, std::max(0.0f, x / 2 + 0.5f));
      EXPECT_EQ(v.frame(1)[w * 3 + c], uint8_t(unit * 255.0f)) << "c " << c << " w " << w;
      EXPECT_EQ(v.frame(0)[w * 3 + c], 127);  // 0 -> 127.5 -> 127 (truncation)
    }
  EXPECT_EQ(v.frame(1)[0 * 3 + 2], 0);    // −1 -> 0
  EXPECT_EQ(v.frame(1)[1 * 3 + 2], 255);  // +1 -> 255
}

TEST(WanVae, FramesFromDecoderRefusesNonFiniteVideos) {
  Tensor video = Tensor::zeros({1, 3, 2, 2, 2}, DType::F32);
  video.f32()[5] = NAN;
  const std::string error = error_of([&] { frames_from_decoder(video, 16.0); });
  EXPECT_TRUE(contains(error, "contains NaN or Inf")) << error;
  EXPECT_TRUE(contains(error_of([&] {
                         ops::rgb8_frames(Tensor::zeros({1, 4, 1, 1, 1}, DType::F32));
                       }),
                       "expected video [1,3,F,H,W]"));
}

// The twins' shared byte rule at its edges: NaN and −inf to 0, +inf to 255, truncation below.
TEST(WanVae, Rgb8FramesEdgeValues) {
  const std::vector<float> values{NAN, -INFINITY, INFINITY, 0.999f, -0.999f, 1.0f / 255.0f};
  const std::vector<uint8_t> want{0, 0, 255, 254, 0, 128};
  Tensor video = Tensor::zeros({1, 3, 1, 1, 6}, DType::F32);
  for (size_t i = 0; i < values.size(); ++i) video.f32()[i] = values[i];
  const Tensor bytes = ops::rgb8_frames(video);
  ASSERT_EQ(bytes.shape(), (Shape{1, 1, 6, 3}));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(bytes.data<uint8_t>()[i * 3], want[i]) << i;
}

}  // namespace
}  // namespace fastvideo
