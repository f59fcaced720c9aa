// FP8 linears on the CPU (ops/fp8_linear.h, FastVideo's transformer_quant FP8): the per-row E4M3
// quantization against its definition, the linear's error against f32, bad inputs by name, and a
// tiny generation with transformer_quant FP8 against full precision (MS-SSIM >= 0.95, the issue's
// bar) with the setting in the output's metadata.
#include "ops/fp8_linear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "fastvideo/video_generator.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "pipeline/transformer_quant.h"
#include "quality/video_metrics.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

using testing::contains;
using testing::error_of;
using testing::randn;
using testing::rel_l2;

// Row r of x: its scale is max |x| / 448 (1 when all zero) and each value is e4m3(x / scale),
// so dequantized values are within E4M3's rounding of x: half a 3-bit mantissa step (x / 16) for
// normals, half the subnormal step (scale / 1024) below.
TEST(Fp8Rows, EachRowScaledToItsMaximumAndRoundedToE4m3) {
  Tensor x = randn({6, 48});
  float* v = x.data<float>();
  for (int64_t k = 0; k < 48; ++k) {
    v[48 + k] *= 1000.f;      // row 1: large values
    v[2 * 48 + k] = 0.f;      // row 2: all zero
    v[3 * 48 + k] *= 1e-30f;  // row 3: tiny values (the scale, not E4M3, carries the range)
    v[4 * 48 + k] *= std::pow(10.f, float(k % 8) - 6.f);  // row 4: 8 decades, subnormals
  }
  v[5 * 48 + 7] = std::numeric_limits<float>::quiet_NaN();  // row 5: a NaN stays a NaN
  const ops::Fp8Rows q = ops::quantize_rows_fp8(x);
  ASSERT_EQ(q.values.dtype(), DType::F8E4M3);
  ASSERT_EQ(q.values.shape(), x.shape());
  ASSERT_EQ(q.scales.shape(), Shape({6}));
  const uint8_t* codes = static_cast<const uint8_t*>(q.values.raw_data());
  for (int64_t r = 0; r < 6; ++r) {
    float amax = 0.f;
    for (int64_t k = 0; k < 48; ++k)
      if (!std::isnan(v[r * 48 + k])) amax = std::max(amax, std::fabs(v[r * 48 + k]));
    const float s = q.scales.data<float>()[r];
    EXPECT_EQ(s, amax > 0 ? amax / 448.f : 1.f) << "row " << r;
    for (int64_t k = 0; k < 48; ++k) {
      const float in = v[r * 48 + k], back = e4m3_to_f32(codes[r * 48 + k]) * s;
      if (std::isnan(in)) {
        EXPECT_TRUE(std::isnan(back));
        continue;
      }
      EXPECT_EQ(codes[r * 48 + k], f32_to_e4m3(in / s)) << "row " << r << ", column " << k;
      EXPECT_LE(std::fabs(back - in), std::max(std::fabs(in) / 16.f, s / 1024.f) * 1.0001f)
          << "row " << r << ", column " << k;
    }
  }
  // A row's largest magnitude maps onto ±448 exactly.
  const float* big = std::max_element(v + 48, v + 96,
                                      [](float a, float b) { return std::fabs(a) < std::fabs(b); });
  EXPECT_EQ(e4m3_to_f32(codes[big - v]), std::copysign(448.f, *big));
}

// The linear on quantized operands: close to f32 (E4M3 keeps ~2 significant digits per operand,
// which averages down over the inner dimension) but not equal to it.
TEST(Fp8Linear, CloseToTheF32LinearWithBiasAndGelu) {
  const Tensor x = randn({3, 37, 256}), w = ops::scale(randn({96, 256}), 1.f / 16.f),
               b = randn({96});
  const ops::Fp8Rows qw = ops::quantize_rows_fp8(w);
  const Tensor y = ops::fp8_linear(x, qw, b), want = ops::linear(x, w, b);
  ASSERT_EQ(y.shape(), Shape({3, 37, 96}));
  const double err = rel_l2(y, want);
  std::printf("[fp8 linear cpu] rel-L2 against f32: %.3g\n", err);
  EXPECT_LE(err, 0.05);
  EXPECT_GE(err, 1e-3) << "no quantization error at all: were the operands rounded?";
  EXPECT_LE(rel_l2(ops::fp8_linear(x, qw, b, /*gelu=*/true), ops::gelu_tanh(y)), 1e-6);
  EXPECT_LE(rel_l2(ops::fp8_linear(x, qw, Tensor()), ops::linear(x, w)), 0.05);
}

TEST(Fp8Linear, BadInputsNameWhatWasExpected) {
  const Tensor x = randn({4, 32}), w = randn({16, 32});
  const ops::Fp8Rows qw = ops::quantize_rows_fp8(w);
  std::string m = error_of([&] { ops::fp8_linear(x, {w, qw.scales}, Tensor()); });
  EXPECT_TRUE(contains(m, "F8E4M3 [out, in] with F32 scales [out]")) << m;
  m = error_of([&] { ops::fp8_linear(x, {qw.values, randn({15})}, Tensor()); });
  EXPECT_TRUE(contains(m, "F32 scales [out]")) << m;
  m = error_of([&] { ops::fp8_linear(randn({4, 31}), qw, Tensor()); });
  EXPECT_TRUE(contains(m, "does not match the weight")) << m;
  m = error_of([&] { ops::fp8_linear(x, qw, randn({15})); });
  EXPECT_TRUE(contains(m, "bias") && contains(m, "[16]")) << m;
  m = error_of([&] { ops::quantize_rows_fp8(Tensor::zeros({3, 4}, DType::I32)); });
  EXPECT_TRUE(contains(m, "float tensor")) << m;
}

// 128-wide groups of a row: each group's scale is its own maximum / 448, stored group-major
// ([K / 128, rows], as cuBLASLt reads them), and each value rounds as a row's would.
TEST(Fp8Groups, EachGroupScaledToItsOwnMaximumGroupMajor) {
  Tensor x = randn({3, 384});
  float* v = x.data<float>();
  for (int64_t k = 128; k < 256; ++k) v[k] *= 1000.f;  // row 0, group 1: large
  for (int64_t k = 0; k < 128; ++k) v[384 + k] = 0.f;  // row 1, group 0: all zero
  const ops::Fp8Groups q = ops::quantize_groups_fp8(x);
  ASSERT_EQ(q.values.shape(), x.shape());
  ASSERT_EQ(q.scales.shape(), Shape({3, 3}));
  const auto* codes = static_cast<const uint8_t*>(q.values.raw_data());
  for (int64_t r = 0; r < 3; ++r) {
    for (int64_t g = 0; g < 3; ++g) {
      float amax = 0.f;
      for (int64_t k = g * 128; k < g * 128 + 128; ++k)
        amax = std::max(amax, std::fabs(v[r * 384 + k]));
      const float s = q.scales.data<float>()[g * 3 + r];
      EXPECT_EQ(s, amax > 0 ? amax / 448.f : 1.f) << "row " << r << ", group " << g;
      for (int64_t k = g * 128; k < g * 128 + 128; ++k)
        ASSERT_EQ(codes[r * 384 + k], f32_to_e4m3(v[r * 384 + k] / s)) << r << ", " << k;
    }
  }
}

// 128×128 blocks of a weight: one scale per block, [out / 128, in / 128 rounded up to 4] with the
// padding zero, each value rounded against its block's scale.
TEST(Fp8Blocks, EachBlockScaledToItsOwnMaximumScalesPaddedToFour) {
  Tensor w = randn({256, 384});
  float* v = w.data<float>();
  v[130 * 384 + 300] = 77.f;  // block (1, 2)'s maximum
  const ops::Fp8Blocks q = ops::quantize_blocks_fp8(w);
  ASSERT_EQ(q.values.shape(), w.shape());
  ASSERT_EQ(q.scales.shape(), Shape({2, 4}));
  const float* s = q.scales.data<float>();
  EXPECT_EQ(s[1 * 4 + 2], 77.f / 448.f);
  EXPECT_EQ(s[3], 0.f);
  EXPECT_EQ(s[7], 0.f);
  const auto* codes = static_cast<const uint8_t*>(q.values.raw_data());
  for (int64_t bo = 0; bo < 2; ++bo) {
    for (int64_t bi = 0; bi < 3; ++bi) {
      float amax = 0.f;
      for (int64_t o = bo * 128; o < bo * 128 + 128; ++o)
        for (int64_t i = bi * 128; i < bi * 128 + 128; ++i)
          amax = std::max(amax, std::fabs(v[o * 384 + i]));
      EXPECT_EQ(s[bo * 4 + bi], amax / 448.f) << "block " << bo << ", " << bi;
      EXPECT_EQ(codes[(bo * 128 + 5) * 384 + bi * 128 + 7],
                f32_to_e4m3(v[(bo * 128 + 5) * 384 + bi * 128 + 7] / s[bo * 4 + bi]));
    }
  }
}

// The block-scaled linear: close to f32, closer where one block's range would cost a whole row's
// precision (a column of outliers in the input), and the shapes it cannot serve named.
TEST(Fp8BlockLinear, CloseToTheF32LinearAndRefusesWhatItCannotServe) {
  Tensor x = randn({2, 37, 256});
  const Tensor w = ops::scale(randn({128, 256}), 1.f / 16.f), b = randn({128});
  const ops::Fp8Blocks qw = ops::quantize_blocks_fp8(w);
  const Tensor want = ops::linear(x, w, b);
  const Tensor y = ops::fp8_block_linear(x, qw, b);
  ASSERT_EQ(y.shape(), Shape({2, 37, 128}));
  const double err = rel_l2(y, want);
  std::printf("[fp8 block linear cpu] rel-L2 against f32: %.3g\n", err);
  EXPECT_LE(err, 0.05);
  EXPECT_GE(err, 1e-3) << "no quantization error at all: were the operands rounded?";
  EXPECT_LE(rel_l2(ops::fp8_block_linear(x, qw, b, /*gelu=*/true), ops::gelu_tanh(y)), 1e-6);
  // An outlier in the first column of every row, which the weight ignores: per-row scales flush
  // the row's other values towards zero, 128-wide groups keep those of the second group.
  float* v = x.data<float>();
  for (int64_t r = 0; r < 74; ++r) v[r * 256] = 1e6f;
  Tensor w0 = w.contiguous().clone();
  for (int64_t o = 0; o < 128; ++o) w0.data<float>()[o * 256] = 0.f;
  const Tensor outliers = ops::linear(x, w0, b);
  const double rows_err = rel_l2(ops::fp8_linear(x, ops::quantize_rows_fp8(w0), b), outliers);
  const double groups_err =
      rel_l2(ops::fp8_block_linear(x, ops::quantize_blocks_fp8(w0), b), outliers);
  std::printf("[fp8 block linear cpu] with outliers: rel-L2 %.3g (row scales %.3g)\n", groups_err,
              rows_err);
  EXPECT_LT(groups_err, 0.8 * rows_err);

  EXPECT_TRUE(ops::fp8_blocks_supported(Device::cpu(), 1536, 8960));
  EXPECT_FALSE(ops::fp8_blocks_supported(Device::cpu(), 96, 256));
  std::string m = error_of([&] { ops::quantize_blocks_fp8(randn({96, 256})); });
  EXPECT_TRUE(contains(m, "out and in multiples of 128")) << m;
  m = error_of([&] { ops::quantize_groups_fp8(randn({4, 96})); });
  EXPECT_TRUE(contains(m, "K a multiple of 128")) << m;
  m = error_of([&] { ops::fp8_block_linear(randn({4, 384}), qw, b); });
  EXPECT_TRUE(contains(m, "[..., 256]")) << m;
  m = error_of([&] { ops::fp8_block_linear(x, {qw.values, randn({1, 2})}, b); });
  EXPECT_TRUE(contains(m, "scales [out / 128, in / 128 rounded up to a multiple of 4]")) << m;
}

// The FFN's two linears joined (fp8_linear_gelu_groups, then fp8_block_linear on its groups): on
// the CPU exactly the up projection with GELU, its output quantized in groups, and the down
// projection on those groups, as the model ran them before the join; bad shapes refused by name.
TEST(Fp8LinearGeluGroups, IsTheUpProjectionQuantizedInGroupsAndFeedsTheDownProjection) {
  const Tensor x = randn({2, 19, 256});
  const Tensor w_up = ops::scale(randn({384, 256}), 1.f / 16.f), b_up = randn({384});
  const Tensor w_down = ops::scale(randn({128, 384}), 1.f / 16.f), b_down = randn({128});
  const ops::Fp8Rows xq = ops::quantize_rows_fp8(x), up = ops::quantize_rows_fp8(w_up);
  const ops::Fp8Blocks down = ops::quantize_blocks_fp8(w_down);
  const ops::Fp8Groups got = ops::fp8_linear_gelu_groups(xq, up, b_up);
  const Tensor h = ops::fp8_linear(xq, DType::F32, up, b_up, /*gelu=*/true);
  const ops::Fp8Groups want = ops::quantize_groups_fp8(h.reshape({38, 384}));
  ASSERT_EQ(got.values.shape(), Shape({38, 384}));
  ASSERT_EQ(got.scales.shape(), Shape({3, 38}));
  EXPECT_EQ(std::memcmp(got.values.raw_data(), want.values.raw_data(), 38 * 384), 0);
  EXPECT_EQ(std::memcmp(got.scales.raw_data(), want.scales.raw_data(), 3 * 38 * 4), 0);
  const Tensor y = ops::fp8_block_linear(got, 38, down, b_down);
  ASSERT_EQ(y.shape(), Shape({38, 128}));
  EXPECT_EQ(rel_l2(y, ops::fp8_block_linear(h, down, b_down).reshape({38, 128})), 0.0);
  // The first rows only, as a GPU's padded groups are read (BLAS may block 5 rows differently).
  EXPECT_LE(rel_l2(ops::fp8_block_linear(got, 5, down, b_down), y.slice(0, 0, 5)), 1e-6);

  std::string m = error_of([&] {
    ops::fp8_linear_gelu_groups(xq, ops::quantize_rows_fp8(randn({96, 256})), Tensor());
  });
  EXPECT_TRUE(contains(m, "96 output features do not split into 128-wide groups")) << m;
  m = error_of([&] { ops::fp8_linear_gelu_groups(xq, ops::quantize_rows_fp8(w_down), Tensor()); });
  EXPECT_TRUE(contains(m, "does not match the weight")) << m;
  m = error_of([&] { ops::fp8_block_linear(got, 39, down, b_down); });
  EXPECT_TRUE(contains(m, "hold the 39 rows asked for")) << m;
  m = error_of([&] { ops::fp8_block_linear(want, 38, ops::quantize_blocks_fp8(w_up), b_up); });
  EXPECT_TRUE(contains(m, "must be F8E4M3 [padded, 256]")) << m;
}

// Tiny generations on the CPU at 176×176 (MS-SSIM needs over 160 px): transformer_quant FP8
// against full precision, and the setting recorded; other values refused by name.
TEST(Fp8Linear, GpusWithoutFp8TensorCoresAreRefusedBeforeLoading) {
  const std::string a100 = testing::error_of([] {
    check_transformer_quant_device("FP8", AttentionDevice::gpu(0, "NVIDIA A100-SXM4-80GB", {8, 0}));
  });
  EXPECT_TRUE(testing::contains(a100, "transformer_quant FP8: FP8 linears need FP8 tensor cores") &&
              testing::contains(a100, "NVIDIA A100-SXM4-80GB (cuda:0, sm_80) has none"))
      << a100;
  EXPECT_NO_THROW(check_transformer_quant_device("FP8", AttentionDevice::gpu(0, "L40S", {8, 9})));
  EXPECT_NO_THROW(check_transformer_quant_device("FP8", AttentionDevice::gpu(0, "H200", {9, 0})));
  EXPECT_NO_THROW(check_transformer_quant_device("FP8", AttentionDevice::cpu()));
  EXPECT_NO_THROW(check_transformer_quant_device("", AttentionDevice::gpu(0, "A100", {8, 0})));
}

TEST(Fp8Linear, TinyGenerationWithFp8LinearsMatchesFullPrecision) {
  GenerationRequest request;
  request.prompt = "A red fox runs through fresh snow at dawn.";
  request.seed = 7;
  request.height = 176;
  request.width = 176;
  request.num_frames = 5;
  GeneratorOptions options;
  options.device = "cpu";
  const GenerationResult full =
      VideoGenerator::from_pretrained(testing::tiny_model_dir(), options).generate(request);
  options.transformer_quant = "fp8";
  const GenerationResult fp8 =
      VideoGenerator::from_pretrained(testing::tiny_model_dir(), options).generate(request);
  const VideoComparison cmp =
      compare_videos({fp8.frames, fp8.height, fp8.width, fp8.fps, fp8.rgb},
                     {full.frames, full.height, full.width, full.fps, full.rgb});
  ASSERT_TRUE(cmp.ms_ssim_skipped.empty()) << cmp.ms_ssim_skipped;
  const double drift = rel_l2(testing::final_latents(fp8), testing::final_latents(full));
  std::printf("[fp8 generation cpu] MS-SSIM %.6f against full precision, latents rel-L2 %.3g\n",
              cmp.mean_ms_ssim, drift);
  EXPECT_GE(cmp.mean_ms_ssim, 0.95);
  EXPECT_GT(drift, 1e-5) << "FP8 changed nothing";
  EXPECT_TRUE(std::count(fp8.parameters.begin(), fp8.parameters.end(),
                         std::pair<std::string, std::string>("transformer_quant", "FP8")))
      << "the output's metadata does not record transformer_quant";
  options.transformer_quant = "int4";
  const std::string m =
      error_of([&] { VideoGenerator::from_pretrained(testing::tiny_model_dir(), options); });
  EXPECT_TRUE(contains(m, "transformer_quant 'int4'") && contains(m, "FP8 only")) << m;
}

}  // namespace
}  // namespace fastvideo
