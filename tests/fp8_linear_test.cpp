// FP8 linears on the CPU (ops/fp8_linear.h, FastVideo's transformer_quant FP8): the per-row E4M3
// quantization against its definition, the linear's error against f32, bad inputs by name, and a
// tiny generation with transformer_quant FP8 against full precision (MS-SSIM >= 0.95, the issue's
// bar) with the setting in the output's metadata.
#include "ops/fp8_linear.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
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
