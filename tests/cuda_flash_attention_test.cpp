// ops::cuda::flash_attention (FLASH_ATTN) against the exact fp32 CPU twin ops::cpu::attention on
// bf16-rounded random inputs, and its LSE against a double-precision log-sum-exp, for both kernels:
// Hopper (src/ops/cuda/flash_attention_hopper.cu, sm_90 only) and Portable
// (src/ops/cuda/flash_attention_portable.cu, any sm_80+ GPU). Sequence lengths are not multiples of
// the 128-row query tiles or the 64-key (portable) or 176-key (Hopper) KV tiles, so the masked last
// KV tile and the partial last query tile are exercised. Skips where no GPU (or, for Hopper, no
// sm_90 GPU) exists.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/attention.h"
#include "ops/cuda/flash_attention.h"
#include "ops/elementwise.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using ops::cuda::FlashAttentionKernel;

const char* kernel_name(FlashAttentionKernel kernel) {
  switch (kernel) {
    case FlashAttentionKernel::Automatic:
      return "Automatic";
    case FlashAttentionKernel::Hopper:
      return "Hopper";
    case FlashAttentionKernel::Portable:
      return "Portable";
  }
  return "?";
}

// Every test runs once per kernel (the test parameter); the Hopper kernel needs sm_90, the others
// any GPU the CUDA backend accepts (sm_80+).
class CudaFlashAttention : public ::testing::TestWithParam<FlashAttentionKernel> {};

#define REQUIRE_KERNEL()                                                                   \
  REQUIRE_GPU();                                                                           \
  if (GetParam() == FlashAttentionKernel::Hopper && CudaContext::get(0).info().major != 9) \
  GTEST_SKIP() << "the Hopper FLASH_ATTN kernel needs an sm_90 GPU, this one is "          \
               << CudaContext::get(0).info().name

const Device kGpu = Device::cuda(0);
constexpr double kBound = 1e-2;  // BRIEF: rel_l2 for bf16 attention

struct Case {
  int64_t B, H, Sq, Sk;
};
constexpr int64_t kD = 128;

std::string name(const Case& c, FlashAttentionKernel kernel) {
  return str_cat(kernel_name(kernel), " kernel, B=", c.B, " H=", c.H, " Sq=", c.Sq, " Sk=", c.Sk,
                 " D=", kD);
}

Tensor randn_bf16_exact(Shape shape, float stddev) {
  return testing::randn(std::move(shape), stddev).to(DType::BF16).to(DType::F32);
}

// NaN-filled blocks of these sizes left in the device cache, so outputs the op allocates next
// start as NaN and any element the kernel fails to write fails the comparison.
void poison_next_allocations(std::initializer_list<int64_t> byte_counts) {
  std::vector<Tensor> blocks;
  CudaContext& ctx = CudaContext::get(0);
  for (int64_t bytes : byte_counts) {
    blocks.push_back(Tensor::empty({bytes}, DType::U8, kGpu));
    FV_CUDA_CHECK(cudaMemsetAsync(blocks.back().raw_data(), 0xFF, size_t(bytes), ctx.stream()));
  }
  ctx.synchronize();
}

// log Σ_k exp(scale · q_i·k_k) in double, [B, H, Sq].
std::vector<double> reference_lse(const Tensor& q, const Tensor& k, float scale) {
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2), Sk = k.size(1);
  const float* qd = q.f32().data();
  const float* kd = k.f32().data();
  std::vector<double> lse(static_cast<size_t>(B * H * Sq));
  std::vector<double> s(static_cast<size_t>(Sk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        const float* qi = qd + ((b * Sq + i) * H + h) * kD;
        double mx = -INFINITY;
        for (int64_t j = 0; j < Sk; ++j) {
          const float* kj = kd + ((b * Sk + j) * H + h) * kD;
          double dot = 0;
          for (int64_t d = 0; d < kD; ++d) dot += double(qi[d]) * double(kj[d]);
          s[size_t(j)] = dot * scale;
          mx = std::max(mx, s[size_t(j)]);
        }
        double sum = 0;
        for (int64_t j = 0; j < Sk; ++j) sum += std::exp(s[size_t(j)] - mx);
        lse[size_t((b * H + h) * Sq + i)] = mx + std::log(sum);
      }
  return lse;
}

struct Result {
  double out_rel_l2 = 0;
  double lse_max_err = 0;  // max |got - ref| / (1 + |ref|); NaN if any LSE is not finite
  bool out_finite = true;
};

// late_outlier: the last key scaled by 8 (exact in bf16), so most rows' max jumps in the last KV
// tile and the kernels' conditional rescale must move the exponent base late.
Result run_case(FlashAttentionKernel kernel, const Case& c, float stddev = 1.0f,
                bool check_lse = false, bool late_outlier = false) {
  const float scale = 1.0f / std::sqrt(float(kD));
  Tensor q = randn_bf16_exact({c.B, c.Sq, c.H, kD}, stddev);
  Tensor k = randn_bf16_exact({c.B, c.Sk, c.H, kD}, stddev);
  if (late_outlier) {
    Tensor last = k.slice(1, c.Sk - 1, c.Sk);
    last.copy_from(ops::scale(last.contiguous(), 8.0f));
  }
  Tensor v = randn_bf16_exact({c.B, c.Sk, c.H, kD}, stddev);
  Tensor expected = ops::cpu::attention(q, k, v, scale);

  Tensor qg = q.to(kGpu).to(DType::BF16), kg = k.to(kGpu).to(DType::BF16),
         vg = v.to(kGpu).to(DType::BF16);
  EXPECT_TRUE(ops::cuda::flash_attention_supported(qg, kg, vg, kernel)) << name(c, kernel);
  poison_next_allocations({c.B * c.Sq * c.H * kD * 2, c.B * c.H * c.Sq * 4});
  Tensor lse;
  Tensor got = ops::cuda::flash_attention(qg, kg, vg, scale, check_lse ? &lse : nullptr, kernel);
  EXPECT_EQ(got.dtype(), DType::BF16) << name(c, kernel);
  EXPECT_EQ(got.shape(), expected.shape()) << name(c, kernel);

  Result r;
  Tensor got_f32 = got.to(Device::cpu()).to(DType::F32);
  for (float x : got_f32.f32()) r.out_finite = r.out_finite && std::isfinite(x);
  r.out_rel_l2 = testing::rel_l2(got_f32, expected);
  if (check_lse) {
    const Shape lse_shape{c.B, c.H, c.Sq};
    EXPECT_EQ(lse.shape(), lse_shape) << name(c, kernel);
    const std::vector<double> ref = reference_lse(q, k, scale);
    Tensor lse_cpu = lse.to(Device::cpu());
    const std::span<float> l = lse_cpu.f32();
    bool finite = true;
    for (size_t i = 0; i < ref.size(); ++i) {
      finite = finite && std::isfinite(l[i]);
      r.lse_max_err =
          std::max(r.lse_max_err, std::abs(double(l[i]) - ref[i]) / (1.0 + std::abs(ref[i])));
    }
    if (!finite) r.lse_max_err = NAN;
  }
  return r;
}

TEST_P(CudaFlashAttention, SelfAttentionAtOddLengthsMatchesTheCpu) {
  REQUIRE_KERNEL();
  for (Case c : {Case{1, 2, 77, 77}, Case{2, 3, 1000, 1000}, Case{1, 2, 4097, 4097}}) {
    const Result r = run_case(GetParam(), c);
    EXPECT_TRUE(r.out_finite) << name(c, GetParam());
    EXPECT_LE(r.out_rel_l2, kBound) << name(c, GetParam());
  }
}

TEST_P(CudaFlashAttention, CrossAttentionOver512KeysMatchesTheCpu) {
  REQUIRE_KERNEL();
  // Sq != Sk: Wan cross-attention attends to 512 text tokens; also fewer queries than keys.
  for (Case c : {Case{1, 2, 1000, 512}, Case{2, 2, 77, 300}}) {
    const Result r = run_case(GetParam(), c);
    EXPECT_TRUE(r.out_finite) << name(c, GetParam());
    EXPECT_LE(r.out_rel_l2, kBound) << name(c, GetParam());
  }
}

TEST_P(CudaFlashAttention, WanHeadCounts12And40WithBatchMatchTheCpu) {
  REQUIRE_KERNEL();
  // More work tiles than SMs for H = 40, so the Hopper kernel's persistent loop runs several tiles
  // per CTA.
  for (Case c : {Case{1, 12, 300, 300}, Case{2, 40, 257, 257}}) {
    const Result r = run_case(GetParam(), c);
    EXPECT_TRUE(r.out_finite) << name(c, GetParam());
    EXPECT_LE(r.out_rel_l2, kBound) << name(c, GetParam());
  }
}

TEST_P(CudaFlashAttention, LogSumExpMatchesADoubleReference) {
  REQUIRE_KERNEL();
  for (Case c : {Case{1, 2, 77, 77}, Case{1, 2, 1000, 512}, Case{2, 3, 200, 129}}) {
    const Result r = run_case(GetParam(), c, 1.0f, /*check_lse=*/true);
    EXPECT_LE(r.out_rel_l2, kBound) << name(c, GetParam());
    EXPECT_LE(r.lse_max_err, 1e-3) << name(c, GetParam()) << " (NaN: an LSE was not finite)";
  }
}

TEST_P(CudaFlashAttention, LargeMagnitudeInputsStayFiniteAndAccurate) {
  REQUIRE_KERNEL();
  // ×20 inputs put the scaled scores in the hundreds: exp must be taken relative to the row max.
  const Case c{1, 4, 1000, 1000};
  const Result r = run_case(GetParam(), c, 20.0f, /*check_lse=*/true);
  EXPECT_TRUE(r.out_finite) << name(c, GetParam());
  EXPECT_LE(r.out_rel_l2, kBound) << name(c, GetParam());
  EXPECT_LE(r.lse_max_err, 1e-3) << name(c, GetParam());
}

TEST_P(CudaFlashAttention, SingleTokenAndShorterThanOneTileSequencesMatchTheCpu) {
  REQUIRE_KERNEL();
  // One query and one key; a single KV tile with only a few valid keys; one key per query tile.
  for (Case c : {Case{1, 2, 1, 1}, Case{2, 3, 5, 33}, Case{1, 2, 130, 1}}) {
    const Result r = run_case(GetParam(), c, 1.0f, /*check_lse=*/true);
    EXPECT_TRUE(r.out_finite) << name(c, GetParam());
    EXPECT_LE(r.out_rel_l2, kBound) << name(c, GetParam());
    EXPECT_LE(r.lse_max_err, 1e-3) << name(c, GetParam()) << " (NaN: an LSE was not finite)";
  }
}

TEST_P(CudaFlashAttention, LengthsThatAreWholeTilesMatchTheCpu) {
  REQUIRE_KERNEL();
  // Sq a multiple of the 128-row query tile; Sk a multiple of the Hopper kernel's 176-key tile
  // (352, 528: no masked tile) or of the portable kernel's 64 (384).
  for (Case c : {Case{1, 2, 256, 352}, Case{2, 2, 384, 384}, Case{1, 3, 128, 528}}) {
    const Result r = run_case(GetParam(), c, 1.0f, /*check_lse=*/true);
    EXPECT_TRUE(r.out_finite) << name(c, GetParam());
    EXPECT_LE(r.out_rel_l2, kBound) << name(c, GetParam());
    EXPECT_LE(r.lse_max_err, 1e-3) << name(c, GetParam());
  }
}

TEST_P(CudaFlashAttention, AMaxThatJumpsInTheLastKeyTileRescalesCorrectly) {
  REQUIRE_KERNEL();
  for (Case c : {Case{1, 2, 300, 1000}, Case{1, 2, 200, 528}}) {
    const Result r = run_case(GetParam(), c, 1.0f, /*check_lse=*/true, /*late_outlier=*/true);
    EXPECT_TRUE(r.out_finite) << name(c, GetParam());
    EXPECT_LE(r.out_rel_l2, kBound) << name(c, GetParam());
    EXPECT_LE(r.lse_max_err, 1e-3) << name(c, GetParam());
  }
}

TEST_P(CudaFlashAttention, UnsupportedInputsAreRefusedAndRejected) {
  REQUIRE_KERNEL();
  const FlashAttentionKernel kernel = GetParam();
  Tensor q64 = Tensor::empty({1, 8, 2, 64}, DType::BF16, kGpu);
  EXPECT_FALSE(ops::cuda::flash_attention_supported(q64, q64, q64, kernel));
  Tensor f32 = Tensor::empty({1, 8, 2, 128}, DType::F32, kGpu);
  EXPECT_FALSE(ops::cuda::flash_attention_supported(f32, f32, f32, kernel));
  Tensor q = Tensor::empty({1, 8, 2, 128}, DType::BF16, kGpu);
  Tensor k_other_heads = Tensor::empty({1, 9, 3, 128}, DType::BF16, kGpu);
  EXPECT_FALSE(ops::cuda::flash_attention_supported(q, k_other_heads, k_other_heads, kernel));
  Tensor strided = Tensor::empty({1, 8, 4, 128}, DType::BF16, kGpu).slice(2, 0, 2);
  EXPECT_FALSE(ops::cuda::flash_attention_supported(strided, strided, strided, kernel));
  // The reason names the input and what was expected.
  const auto reason = [&](const Tensor& a, const Tensor& b) {
    return ops::cuda::flash_attention_unsupported_reason(a, b, b, kernel);
  };
  EXPECT_NE(reason(q64, q64).find("expected bf16[B,S,H,128]"), std::string::npos)
      << reason(q64, q64);
  EXPECT_NE(reason(f32, f32).find("expected bf16"), std::string::npos) << reason(f32, f32);
  EXPECT_NE(reason(q, k_other_heads).find("must match q"), std::string::npos)
      << reason(q, k_other_heads);
  EXPECT_NE(reason(strided, strided).find("not contiguous"), std::string::npos)
      << reason(strided, strided);
  EXPECT_TRUE(reason(q, q).empty()) << reason(q, q);
  try {
    ops::cuda::flash_attention(q64, q64, q64, 1.0f, nullptr, kernel);
    ADD_FAILURE() << "a head dim of 64 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("q is bf16[1,8,2,64]"), std::string::npos) << e.what();
  }
}

// The Wan lengths themselves (32,760 tokens at 480p, 75,600 at 720p; neither a multiple of the
// tiles): the whole attention runs on the GPU, and a sample of query rows (the first, the last
// incl. the partial last tile, and rows spread between) is checked against the CPU twin.
TEST_P(CudaFlashAttention, WanSequenceLengthsMatchTheCpuOnSampledRows) {
  REQUIRE_KERNEL();
  const float scale = 1.0f / std::sqrt(float(kD));
  for (int64_t L : {int64_t{32760}, int64_t{75600}}) {
    const int64_t H = 2;
    Tensor q = randn_bf16_exact({1, L, H, kD}, 1.0f);
    Tensor k = randn_bf16_exact({1, L, H, kD}, 1.0f);
    Tensor v = randn_bf16_exact({1, L, H, kD}, 1.0f);
    Tensor got = ops::cuda::flash_attention(q.to(kGpu).to(DType::BF16), k.to(kGpu).to(DType::BF16),
                                            v.to(kGpu).to(DType::BF16), scale, nullptr, GetParam())
                     .to(Device::cpu())
                     .to(DType::F32);
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < 40; ++i) rows.push_back(i);
    for (int64_t i = L - 200; i < L; ++i) rows.push_back(i);
    for (int64_t i = 1; i < 40; ++i) rows.push_back(i * (L / 40) + i % 7);
    const int64_t n = int64_t(rows.size());
    Tensor q_rows = Tensor::empty({1, n, H, kD}, DType::F32, Device::cpu());
    Tensor got_rows = Tensor::empty({1, n, H, kD}, DType::F32, Device::cpu());
    for (int64_t i = 0; i < n; ++i) {
      q_rows.slice(1, i, i + 1).copy_from(q.slice(1, rows[size_t(i)], rows[size_t(i)] + 1));
      got_rows.slice(1, i, i + 1).copy_from(got.slice(1, rows[size_t(i)], rows[size_t(i)] + 1));
    }
    const Tensor expected = ops::cpu::attention(q_rows, k, v, scale);
    bool finite = true;
    for (float x : got_rows.f32()) finite = finite && std::isfinite(x);
    EXPECT_TRUE(finite) << "L=" << L << " " << kernel_name(GetParam());
    EXPECT_LE(testing::rel_l2(got_rows, expected), kBound)
        << "L=" << L << " " << kernel_name(GetParam());
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, CudaFlashAttention,
                         ::testing::Values(FlashAttentionKernel::Hopper,
                                           FlashAttentionKernel::Portable),
                         [](const ::testing::TestParamInfo<FlashAttentionKernel>& info) {
                           return std::string(kernel_name(info.param));
                         });

TEST(CudaFlashAttentionChoice, AutomaticRunsHopperOnSm90AndPortableOnOtherSm80PlusGpus) {
  REQUIRE_GPU();
  const bool hopper = CudaContext::get(0).info().major == 9;
  Tensor q = Tensor::empty({1, 8, 2, 128}, DType::BF16, kGpu);
  EXPECT_EQ(ops::cuda::flash_attention_supported(q, q, q, FlashAttentionKernel::Hopper), hopper);
  EXPECT_TRUE(ops::cuda::flash_attention_supported(q, q, q, FlashAttentionKernel::Portable));
  EXPECT_TRUE(ops::cuda::flash_attention_supported(q, q, q));
  const Case c{1, 2, 200, 150};
  const Result r = run_case(FlashAttentionKernel::Automatic, c, 1.0f, /*check_lse=*/true);
  EXPECT_TRUE(r.out_finite) << name(c, FlashAttentionKernel::Automatic);
  EXPECT_LE(r.out_rel_l2, kBound) << name(c, FlashAttentionKernel::Automatic);
  EXPECT_LE(r.lse_max_err, 1e-3) << name(c, FlashAttentionKernel::Automatic);
}

// FLASH_ATTN plans once per device, shape and kernel choice (the choice and the device checks),
// and a run only checks that its tensors fit the plan.
TEST(CudaFlashAttentionPlan, IsMadeOncePerShapeAndRefusesTensorsThatDoNotFitIt) {
  REQUIRE_GPU();
  const bool hopper = CudaContext::get(0).info().major == 9;
  Tensor q = Tensor::empty({1, 40, 2, 128}, DType::BF16, kGpu);
  Tensor k = Tensor::empty({1, 56, 2, 128}, DType::BF16, kGpu);
  const auto& plan = ops::cuda::plan_flash_attention(q, k, k);
  EXPECT_EQ(&ops::cuda::plan_flash_attention(q, k, k), &plan);
  EXPECT_EQ(plan.kernel, hopper ? FlashAttentionKernel::Hopper : FlashAttentionKernel::Portable);
  EXPECT_EQ(plan.q_len, 40);
  EXPECT_EQ(plan.kv_len, 56);
  EXPECT_GT(plan.grid, 0);
  // Fresh tensors of the same shape share the plan; another shape or kernel choice gets its own.
  Tensor q2 = Tensor::empty({1, 40, 2, 128}, DType::BF16, kGpu);
  EXPECT_EQ(&ops::cuda::plan_flash_attention(q2, k, k), &plan);
  EXPECT_NE(&ops::cuda::plan_flash_attention(k, k, k), &plan);
  EXPECT_EQ(ops::cuda::plan_flash_attention(q, k, k, FlashAttentionKernel::Portable).kernel,
            FlashAttentionKernel::Portable);
  try {
    ops::cuda::flash_attention(plan, k, k, k, 0.1f);
    ADD_FAILURE() << "a q of another length ran with the plan";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("do not fit the plan"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fastvideo
