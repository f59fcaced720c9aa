// FP8 linears on a GPU (ops/fp8_linear.h, FastVideo's transformer_quant FP8): the quantizing
// kernel gives the CPU's bytes and scales exactly (edge rows included), so do the norms that
// quantize as they write (norm_fp8.h) against the norm and the quantizer, bad inputs are refused by
// name, and tiny generations with FP8 linears stay within the bars: MS-SSIM >= 0.95 against
// bf16, compile mode's replays equal to FP8 eager (>= 0.99), layerwise offload refused. The linear
// itself against its CPU twin is in the op table (cuda_ops/op_cases.cpp), the block-scaled one
// below. Skips where no GPU exists.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <vector>

#include "fastvideo/video_generator.h"
#include "io/checkpoint.h"
#include "models/wan/dit/wan_transformer.h"
#include "ops/cuda/fp8_gelu_groups_hopper.h"
#include "ops/fp8_linear.h"
#include "ops/norm.h"
#include "ops/norm_fp8.h"
#include "quality/video_metrics.h"
#include "require_gpu.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

using testing::contains;
using testing::error_of;

const Device kGpu = Device::cuda(0);

TEST(CudaFp8Rows, TheKernelRoundsAsTheCpuDoes) {
  REQUIRE_GPU();
  // Rows of bf16 values: plain, eight decades apart (subnormal codes), all zero, a NaN, an
  // infinity, huge; 11 rows, so the warp-a-row kernel's last CTA is partly empty. The widths reach
  // each kernel and both ends of each: a warp a row (16, 1536, 2048), a CTA a row (2064, 8960,
  // 14336) and the two-pass kernel beyond (14352).
  for (const int64_t K : {16, 1536, 2048, 2064, 8960, 14336, 14352}) {
    Tensor x = testing::randn({11, K});
    float* v = x.data<float>();
    for (int64_t k = 0; k < K; ++k) {
      v[K + k] *= std::pow(10.f, float(k % 8) - 6.f);
      v[2 * K + k] = 0.f;
      v[5 * K + k] *= 1e30f;
    }
    v[3 * K + 5] = std::numeric_limits<float>::quiet_NaN();
    v[4 * K + 1] = -std::numeric_limits<float>::infinity();
    const Tensor bf16 = x.to(DType::BF16);
    const ops::Fp8Rows want = ops::quantize_rows_fp8(bf16.to(DType::F32));
    const ops::Fp8Rows got = ops::quantize_rows_fp8(bf16.to(kGpu));
    const Tensor codes = got.values.to(Device::cpu()), scales = got.scales.to(Device::cpu());
    const auto* a = static_cast<const uint8_t*>(codes.raw_data());
    const auto* b = static_cast<const uint8_t*>(want.values.raw_data());
    int64_t differ = 0, nans = 0;
    for (int64_t i = 0; i < 11 * K; ++i) {
      const bool nan = (a[i] & 0x7f) == 0x7f && (b[i] & 0x7f) == 0x7f;  // either sign is NaN
      nans += nan;
      differ += a[i] != b[i] && !nan;
    }
    EXPECT_EQ(differ, 0) << "K " << K << ": E4M3 bytes differ";
    EXPECT_GE(nans, 2) << "the NaN row and -inf / inf's NaN";
    for (int64_t r = 0; r < 11; ++r) {
      const float a = scales.data<float>()[r], b = want.scales.data<float>()[r];
      EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b)))
          << "row " << r << ": " << a << " vs " << b;
    }
  }
}

// The norms that write FP8 rows (ops/norm_fp8.h) give the bytes and scales of the norm followed by
// quantize_rows_fp8, on the warp-per-row (64) and block-per-row (1536, Wan's width) paths, with
// F32 and BF16 parameters or none (a constant row then normalises to zeros: scale 1), and for a
// view 8 bytes off the 16-byte alignment (the norm and the quantizer one after the other).
TEST(CudaFp8Rows, TheNormsWriteTheRowsTheQuantizerWould) {
  REQUIRE_GPU();
  auto same = [](const ops::Fp8Rows& a, const ops::Fp8Rows& b) {
    const Tensor av = a.values.to(Device::cpu()), bv = b.values.to(Device::cpu());
    const Tensor as = a.scales.to(Device::cpu()), bs = b.scales.to(Device::cpu());
    return av.nbytes() == bv.nbytes() && as.nbytes() == bs.nbytes() &&
           std::memcmp(av.raw_data(), bv.raw_data(), av.nbytes()) == 0 &&
           std::memcmp(as.raw_data(), bs.raw_data(), as.nbytes()) == 0;
  };
  for (const int64_t D : {int64_t(64), int64_t(1536)}) {
    Tensor host = testing::randn({2, 37, D});
    for (int64_t k = 0; k < D; ++k) {
      host.data<float>()[3 * D + k] = 0.f;
      host.data<float>()[5 * D + k] = 2.5f;
    }
    const Tensor x = host.to(DType::BF16).to(kGpu);
    const Tensor mod = testing::randn({2, 2, D}).to(DType::BF16).to(kGpu);
    const Tensor shift = mod.select(1, 0), scale = mod.select(1, 1);
    EXPECT_TRUE(same(ops::layer_norm_modulate_fp8(x, 1e-6f, shift, scale),
                     ops::quantize_rows_fp8(ops::layer_norm_modulate(x, 1e-6f, shift, scale))))
        << "layer_norm_modulate_fp8, D " << D;
    for (const DType dp : {DType::F32, DType::BF16}) {
      const Tensor w = testing::randn({D}).to(dp).to(kGpu), b = testing::randn({D}).to(dp).to(kGpu);
      EXPECT_TRUE(same(ops::layer_norm_fp8(x, 1e-6f, w, b),
                       ops::quantize_rows_fp8(ops::layer_norm(x, 1e-6f, w, b))))
          << "layer_norm_fp8, D " << D << ", parameters " << dtype_name(dp);
    }
    const ops::Fp8Rows plain = ops::layer_norm_fp8(x, 1e-6f, Tensor(), Tensor());
    EXPECT_TRUE(same(plain, ops::quantize_rows_fp8(ops::layer_norm(x, 1e-6f))))
        << "layer_norm_fp8 without parameters, D " << D;
    EXPECT_EQ(plain.scales.to(Device::cpu()).data<float>()[5], 1.f) << "the constant row";
    // Rows of D starting 4 elements (8 bytes) into a buffer.
    const Tensor offset = testing::randn({2 * 37 * D + 4})
                              .to(DType::BF16)
                              .to(kGpu)
                              .slice(0, 4, 4 + 2 * 37 * D)
                              .reshape({2, 37, D});
    EXPECT_TRUE(same(ops::layer_norm_modulate_fp8(offset, 1e-6f, shift, scale),
                     ops::quantize_rows_fp8(ops::layer_norm_modulate(offset, 1e-6f, shift, scale))))
        << "a view off the 16-byte alignment, D " << D;
  }
}

TEST(CudaFp8Linear, RefusesWhatItCannotRunByName) {
  REQUIRE_GPU();
  const Tensor w = testing::randn({32, 48}).to(DType::BF16).to(kGpu);
  std::string m = error_of([&] { ops::quantize_rows_fp8(testing::randn({4, 48}).to(kGpu)); });
  EXPECT_TRUE(contains(m, "BF16 rows of a multiple of 16")) << m;
  m = error_of([&] { ops::quantize_rows_fp8(testing::randn({4, 40}).to(DType::BF16).to(kGpu)); });
  EXPECT_TRUE(contains(m, "multiple of 16")) << m;
  const ops::Fp8Rows qw = ops::quantize_rows_fp8(w);
  m = error_of([&] { ops::fp8_linear(testing::randn({4, 48}).to(kGpu), qw, Tensor()); });
  EXPECT_TRUE(contains(m, "BF16 input")) << m;
  m = error_of([&] {
    ops::fp8_linear(testing::randn({4, 48}).to(DType::BF16), qw, Tensor());  // x on the CPU
  });
  EXPECT_TRUE(contains(m, "must be on cpu")) << m;
  m = error_of([&] {
    ops::layer_norm_fp8(testing::randn({4, 48}).to(kGpu), 1e-6f, Tensor(), Tensor());  // F32
  });
  EXPECT_TRUE(contains(m, "layer_norm_fp8 with FP8 rows takes BF16 rows")) << m;
}

// Bytes of two E4M3 tensors that differ, a NaN of either sign equal to a NaN.
int64_t differing_codes(const Tensor& got, const Tensor& want) {
  const Tensor a = got.to(Device::cpu()), b = want.to(Device::cpu());
  const auto* x = static_cast<const uint8_t*>(a.raw_data());
  const auto* y = static_cast<const uint8_t*>(b.raw_data());
  int64_t differ = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    differ += x[i] != y[i] && !((x[i] & 0x7f) == 0x7f && (y[i] & 0x7f) == 0x7f);
  return differ;
}

// x with each 128-wide group of each row scaled differently (2^((r + 3g) % 9 - 4)), so group
// scales taken from the wrong row or group show.
Tensor skewed_groups(int64_t rows, int64_t K) {
  Tensor x = testing::randn({rows, K});
  float* v = x.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; ++k)
      v[r * K + k] *= std::ldexp(1.f, int((r + 3 * (k / 128)) % 9) - 4);
  return x.to(DType::BF16);
}

// The 128-wide groups and the 128×128 weight blocks: the kernels give the CPU's bytes and scales
// exactly, at widths one group, the 1.3B's 1536 and its FFN's 8960, with a zero group and a NaN.
TEST(CudaFp8Groups, TheKernelsRoundAsTheCpuDoes) {
  REQUIRE_GPU();
  for (const int64_t K : {128, 1536, 8960}) {
    Tensor x = skewed_groups(11, K).to(DType::F32);
    float* v = x.data<float>();
    for (int64_t k = 0; k < 128; ++k) v[2 * K + k] = 0.f;
    v[3 * K + 5] = std::numeric_limits<float>::quiet_NaN();
    const Tensor bf16 = x.to(DType::BF16);
    const ops::Fp8Groups want = ops::quantize_groups_fp8(bf16.to(DType::F32));
    const ops::Fp8Groups got = ops::quantize_groups_fp8(bf16.to(kGpu));
    EXPECT_EQ(differing_codes(got.values, want.values), 0) << "K " << K;
    ASSERT_EQ(got.scales.shape(), want.scales.shape());
    const Tensor scales = got.scales.to(Device::cpu());
    for (int64_t i = 0; i < scales.numel(); ++i)
      EXPECT_EQ(scales.data<float>()[i], want.scales.data<float>()[i]) << "K " << K << ", " << i;
  }
  const Tensor w = skewed_groups(256, 384);
  const ops::Fp8Blocks want = ops::quantize_blocks_fp8(w.to(DType::F32));
  const ops::Fp8Blocks got = ops::quantize_blocks_fp8(w.to(kGpu));
  EXPECT_EQ(differing_codes(got.values, want.values), 0);
  const Tensor scales = got.scales.to(Device::cpu());
  ASSERT_EQ(scales.shape(), Shape({2, 4}));
  for (int64_t i = 0; i < 8; ++i)
    EXPECT_EQ(scales.data<float>()[i], want.scales.data<float>()[i]) << i;
}

// The block-scaled linear against its CPU twin (the same bytes and scales, so what differs is the
// sum's order and the bf16 output) on a Hopper GPU: with and without bias and GELU, token counts
// a multiple of 16 and not (padded), groups and blocks of skewed scales so a misread scale layout
// shows. Elsewhere it is refused by name.
TEST(CudaFp8BlockLinear, MatchesItsCpuTwinOnHopper) {
  REQUIRE_GPU();
  // The weight's 128×128 blocks each scaled differently too (2^(3·row block + column block)).
  Tensor wf = testing::randn({256, 384});
  for (int64_t o = 0; o < 256; ++o)
    for (int64_t i = 0; i < 384; ++i)
      wf.data<float>()[o * 384 + i] *= std::ldexp(1.f, int(3 * (o / 128) + i / 128) - 3);
  const Tensor w = wf.to(DType::BF16), b = testing::randn({256}).to(DType::BF16);
  if (!ops::fp8_blocks_supported(kGpu, 256, 384)) {
    const std::string m = error_of([&] {
      ops::fp8_block_linear(skewed_groups(16, 384).to(kGpu), ops::quantize_blocks_fp8(w.to(kGpu)),
                            Tensor());
    });
    EXPECT_TRUE(contains(m, "no GEMM with 128-wide FP8 scales")) << m;
    return;
  }
  const ops::Fp8Blocks cpu_w = ops::quantize_blocks_fp8(w.to(DType::F32));
  const ops::Fp8Blocks gpu_w = ops::quantize_blocks_fp8(w.to(kGpu));
  for (const int64_t rows : {37, 64}) {
    const Tensor x = skewed_groups(rows, 384);
    for (const bool gelu : {false, true}) {
      for (const bool bias : {false, true}) {
        const Tensor want = ops::fp8_block_linear(x.to(DType::F32), cpu_w,
                                                  bias ? b.to(DType::F32) : Tensor(), gelu);
        const Tensor got =
            ops::fp8_block_linear(x.to(kGpu), gpu_w, bias ? b.to(kGpu) : Tensor(), gelu);
        ASSERT_EQ(got.shape(), Shape({rows, 256}));
        const double err = testing::rel_l2(got.to(Device::cpu()).to(DType::F32), want);
        std::printf("[fp8 block linear cuda] %lld rows, gelu %d, bias %d: rel-L2 %.3g\n",
                    static_cast<long long>(rows), int(gelu), int(bias), err);
        EXPECT_LE(err, 1e-2) << rows << " rows, gelu " << gelu << ", bias " << bias;
      }
    }
  }
}

// Groups [padded, K] with scales [K / 128, padded] as F32 values (code times its group's scale),
// the first `rows` rows.
Tensor dequantize_groups(const ops::Fp8Groups& q, int64_t rows) {
  const Tensor v = q.values.to(Device::cpu()).to(DType::F32), s = q.scales.to(Device::cpu());
  const int64_t K = v.size(1), ld = s.size(1);
  Tensor out = Tensor::empty({rows, K}, DType::F32);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < K; ++k)
      out.data<float>()[r * K + k] =
          v.data<float>()[r * K + k] * s.data<float>()[(k / 128) * ld + r];
  return out;
}

// The FFN's up projection quantized in groups by its own kernel on Hopper
// (fp8_gelu_groups_hopper.cu; elsewhere the two-step path it replaces) against that two-step
// path on the same GPU and the CPU twin (f32 sums): partial 128-row tiles, several 256-column
// tiles, K from one step to 40, skewed rows, with and without bias; the padding rows zero with
// scale 1; and the down projection fed from the groups as from the bf16 activation.
TEST(CudaFp8LinearGeluGroups, MatchesTheTwoStepPathAndItsCpuTwin) {
  REQUIRE_GPU();
  std::printf("[fp8 gelu groups cuda] the Hopper kernel %s here\n",
              ops::cuda::hopper_fp8_gelu_groups_applies(kGpu, 256, 512) ? "runs" : "does not run");
  struct Case {
    int64_t rows, in, out;
    bool bias;
  };
  // One tile; five K steps (the stage ring wraps) without bias; one K step; more tiles than SMs
  // (each CTA runs several, the ring and the column table carried across) at the 1.3B FFN's K,
  // and with one K step (a tile's steps fewer than the ring's stages); and the 14B FFN's K 5120,
  // where the MMA's accumulator holds the longest sum.
  for (const Case c :
       {Case{37, 256, 512, true}, Case{300, 640, 256, false}, Case{129, 128, 768, true},
        Case{4096, 1536, 2048, true}, Case{8192, 128, 1024, true}, Case{200, 5120, 512, true}}) {
    SCOPED_TRACE(str_cat(c.rows, " rows, ", c.in, " -> ", c.out, ", bias ", c.bias));
    const Tensor x = skewed_groups(c.rows, c.in);
    const Tensor w = testing::randn({c.out, c.in}, 1.f / 16.f);
    const Tensor b = c.bias ? testing::randn({c.out}).to(DType::BF16) : Tensor();
    const ops::Fp8Rows xq = ops::quantize_rows_fp8(x.to(kGpu));
    const ops::Fp8Rows wq = ops::quantize_rows_fp8(w.to(DType::BF16).to(kGpu));
    const Tensor bg = c.bias ? b.to(kGpu) : Tensor();
    const ops::Fp8Groups got = ops::fp8_linear_gelu_groups(xq, wq, bg);
    const int64_t padded = (c.rows + 15) / 16 * 16;
    ASSERT_EQ(got.values.shape(), Shape({padded, c.out}));
    ASSERT_EQ(got.scales.shape(), Shape({c.out / 128, padded}));
    // The two-step path: the bf16 GELU output, then its groups.
    const Tensor h = ops::fp8_linear(xq, DType::BF16, wq, bg, /*gelu=*/true);
    const ops::Fp8Groups two_step = ops::quantize_groups_fp8(h);
    const Tensor codes = got.values.slice(0, 0, c.rows).contiguous();
    const double differ = double(differing_codes(codes, two_step.values)) / double(codes.numel());
    const Tensor got_f = dequantize_groups(got, c.rows);
    const double err = testing::rel_l2(got_f, dequantize_groups(two_step, c.rows));
    // The CPU twin: the same operands' codes and scales, f32 throughout.
    const Tensor cpu = dequantize_groups(
        ops::fp8_linear_gelu_groups({xq.values.to(Device::cpu()), xq.scales.to(Device::cpu())},
                                    {wq.values.to(Device::cpu()), wq.scales.to(Device::cpu())},
                                    c.bias ? b.to(DType::F32) : Tensor()),
        c.rows);
    const double cpu_err = testing::rel_l2(got_f, cpu);
    const double two_step_cpu_err = testing::rel_l2(dequantize_groups(two_step, c.rows), cpu);
    // Codes differ most where a value is small against its group's maximum (GELU's negative
    // tail, where approximations part): the share among codes of at least 1/16 of it too.
    const Tensor mine = codes.to(Device::cpu()).to(DType::F32);
    const Tensor theirs = two_step.values.to(Device::cpu()).to(DType::F32);
    int64_t large = 0, large_differ = 0;
    for (int64_t i = 0; i < mine.numel(); ++i) {
      if (std::fabs(theirs.data<float>()[i]) < 448.f / 16) continue;
      ++large;
      large_differ += mine.data<float>()[i] != theirs.data<float>()[i];
    }
    std::printf(
        "[fp8 gelu groups cuda] %lld x %lld -> %lld: %.4f of codes differ from the two-step "
        "path (%.4f of those >= 1/16 of their group's maximum), rel-L2 %.3g against it; "
        "against the CPU %.3g (the two-step path %.3g)\n",
        static_cast<long long>(c.rows), static_cast<long long>(c.in), static_cast<long long>(c.out),
        differ, double(large_differ) / double(std::max<int64_t>(large, 1)), err, cpu_err,
        two_step_cpu_err);
    EXPECT_LE(err, 2.5e-2);
    EXPECT_LE(cpu_err, 3e-2);
    EXPECT_TRUE(std::isfinite(cpu_err));
    // Padding rows: zero codes, scale 1.
    const Tensor v = got.values.to(Device::cpu()), s = got.scales.to(Device::cpu());
    for (int64_t r = c.rows; r < padded; ++r) {
      for (int64_t k = 0; k < c.out; ++k)
        ASSERT_EQ(static_cast<const uint8_t*>(v.raw_data())[r * c.out + k], 0) << r << ", " << k;
      for (int64_t g = 0; g < c.out / 128; ++g) ASSERT_EQ(s.data<float>()[g * padded + r], 1.f);
    }
    // The down projection from the groups, as from the bf16 activation (128-wide blocks).
    if (!ops::fp8_blocks_supported(kGpu, 128, c.out)) continue;
    const Tensor wd = testing::randn({128, c.out}, 1.f / 16.f);
    const ops::Fp8Blocks down = ops::quantize_blocks_fp8(wd.to(DType::BF16).to(kGpu));
    const Tensor y = ops::fp8_block_linear(got, c.rows, down, Tensor());
    ASSERT_EQ(y.shape(), Shape({c.rows, 128}));
    const double down_err =
        testing::rel_l2(y.to(Device::cpu()).to(DType::F32),
                        ops::fp8_block_linear(h, down, Tensor()).to(Device::cpu()).to(DType::F32));
    std::printf(
        "[fp8 gelu groups cuda] down projection from the groups: rel-L2 %.3g against the "
        "bf16 input's\n",
        down_err);
    EXPECT_LE(down_err, 2.5e-2);
  }
}

GenerationResult generate_tiny(GeneratorOptions options) {
  GenerationRequest request;
  request.prompt = "A red fox runs through fresh snow at dawn.";
  request.seed = 7;
  request.height = 176;  // MS-SSIM needs frames over 160 px on the short side
  request.width = 176;
  options.device = "cuda";
  return VideoGenerator::from_pretrained(testing::tiny_model_dir(), options).generate(request);
}

double ms_ssim(const GenerationResult& a, const GenerationResult& b) {
  const VideoComparison cmp = compare_videos({a.frames, a.height, a.width, a.fps, a.rgb},
                                             {b.frames, b.height, b.width, b.fps, b.rgb});
  EXPECT_TRUE(cmp.ms_ssim_skipped.empty()) << cmp.ms_ssim_skipped;
  return cmp.mean_ms_ssim;
}

// The per-layer bar on the device, where the norms quantize as they write (norm_fp8.h):
// every block's output with FP8 linears within cosine 0.995 of the same block in bf16, and the
// model output too. A generation's MS-SSIM alone let an FP8 linear without its bias pass.
TEST(CudaFp8Linear, EveryBlockStaysWithinTheCosineBarOfBf16) {
  REQUIRE_GPU();
  auto ckpt = CheckpointFolder::open(testing::tiny_model_dir());
  auto config = WanTransformerConfig::from_json(ckpt.config("transformer"));
  const std::set<std::string> keep = wan_transformer_fp32_names(config);
  WanTransformer model(
      config, load_component(ckpt.path("transformer"), wan_transformer_specs(config), DType::BF16,
                             kGpu, &keep));
  const Tensor latents = testing::randn({1, 16, 3, 16, 16}).to(kGpu);
  const Tensor context = testing::randn({1, 512, config.text_dim}, 0.3f).to(kGpu).to(DType::BF16);
  const double t[] = {700.0};
  auto host = [](const Tensor& x) { return x.to(Device::cpu()).to(DType::F32).contiguous(); };
  std::vector<Tensor> reference;
  model.set_block_probe([&](int, const Tensor& x) { reference.push_back(host(x)); });
  const Tensor want = host(model.forward(latents, t, model.prepare_text(context)));
  ASSERT_EQ(reference.size(), size_t(config.num_layers));
  model.quantize_linears_fp8();
  std::vector<double> cosines;
  model.set_block_probe([&](int i, const Tensor& x) {
    cosines.push_back(testing::cosine(host(x), reference[size_t(i)]));
  });
  const Tensor got = host(model.forward(latents, t, model.prepare_text(context)));
  ASSERT_EQ(cosines.size(), reference.size());
  for (size_t i = 0; i < cosines.size(); ++i) {
    std::printf("[fp8 blocks cuda] block %zu cosine %.6f\n", i, cosines[i]);
    EXPECT_GE(cosines[i], 0.995) << "block " << i;
  }
  EXPECT_GE(testing::cosine(got, want), 0.995);
  EXPECT_GT(testing::rel_l2(got, want), 1e-4) << "FP8 changed nothing";
}

TEST(CudaFp8Linear, TinyGenerationsMeetTheBars) {
  REQUIRE_GPU();
  ::unsetenv("FASTVIDEO_ATTENTION_BACKEND");
  const GenerationResult bf16 = generate_tiny({});
  GeneratorOptions fp8_options;
  fp8_options.transformer_quant = "FP8";
  const GenerationResult fp8 = generate_tiny(fp8_options);
  fp8_options.enable_torch_compile = true;
  const GenerationResult compiled = generate_tiny(fp8_options);
  const double vs_bf16 = ms_ssim(fp8, bf16), vs_eager = ms_ssim(compiled, fp8);
  std::printf(
      "[fp8 generation cuda] MS-SSIM against bf16 %.6f (latents rel-L2 %.3g); compile "
      "mode against FP8 eager %.6f\n",
      vs_bf16, testing::rel_l2(testing::final_latents(fp8), testing::final_latents(bf16)),
      vs_eager);
  EXPECT_GE(vs_bf16, 0.95);
  EXPECT_GT(testing::rel_l2(testing::final_latents(fp8), testing::final_latents(bf16)), 1e-4)
      << "FP8 changed nothing";
  EXPECT_GE(vs_eager, 0.99);
  GeneratorOptions offloaded;
  offloaded.transformer_quant = "FP8";
  offloaded.dit_layerwise_offload = true;
  const std::string m = error_of([&] { generate_tiny(offloaded); });
  EXPECT_TRUE(contains(m, "transformer_quant FP8") && contains(m, "dit_layerwise_offload")) << m;
}

}  // namespace
}  // namespace fastvideo
