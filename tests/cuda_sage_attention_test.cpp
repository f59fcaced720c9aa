// SAGE_ATTN on a GPU (ops/cuda/sage_attention.cpp) against its CPU contract (ops/sage_attention.h)
// on bf16-rounded random inputs: the quantization pre-pass piece by piece against the CPU pieces
// (same groups, scales and bytes, in both V layouts), and every kernel this GPU can run (Hopper's
// and the portable ones on an H100/H200, the portable ones on an L40S, FP16 P̃·V on an A100)
// against ops::cpu::sage_attention with the kernel's recipe (rel-L2 ≤ 1e-2: the GPU's exp2 is
// approximate and FP8 MMAs accumulate in ~22 bits), against dense attention in double on DiT-like
// inputs (cosine ≥ 0.999, rel-L2 ≤ 3e-2, the bound) and the E4M3 ones against each other
// (≤ 2e-2: their softmax blocks differ), also with zero-mean V (no
// channel offset to dilute the error), at odd sequence lengths
// (partial key and query blocks), batch 2, heads 3 and 12, the Hopper kernel's last wave cut into
// key ranges; q and k near 1e-22, where the scales' product underflows to 0; outputs poisoned
// with NaN where a kernel writes into a given tensor; NaN is a failure. Skips where no GPU exists.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "core/cuda/cuda_context.h"
#include "ops/cuda/sage_kernels.h"
#include "ops/elementwise.h"
#include "ops/sage_attention.h"
#include "ops/sparse_linear_attention.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::rel_l2;

const Device kGpu = Device::cuda(0);

bool is_hopper() { return CudaContext::get(0).info().major == 9; }

// The kernels this GPU runs (sage_kernel_for accepts them here), Hopper's first where it runs.
std::vector<SageKernel> kernels_here() {
  const CudaDeviceInfo& info = CudaContext::get(0).info();
  std::vector<SageKernel> out;
  for (SageKernel k : {SageKernel::Hopper, SageKernel::PortableFp8, SageKernel::PortableF16}) {
    try {
      sage_kernel_for(info.major, info.minor, k);
      out.push_back(k);
    } catch (const Error&) {
    }
  }
  return out;
}

const char* kernel_name(SageKernel k) {
  switch (k) {
    case SageKernel::Automatic:
      return "automatic";
    case SageKernel::Hopper:
      return "Hopper";
    case SageKernel::PortableFp8:
      return "portable, FP8 P·V";
    case SageKernel::PortableF16:
      return "portable, FP16 P·V";
  }
  return "?";
}

// The CPU contract `kernel` follows, with its recipe.
Tensor contract_of(SageKernel kernel, const Tensor& q, const Tensor& k, const Tensor& v,
                   float scale) {
  return ops::cpu::sage_attention(q, k, v, scale, sage_recipe(kernel));
}

// The portable FP8 kernel against the Hopper one: the same E4M3 recipe but for the softmax block,
// whose other P̃ roundings move a few tenths of a percent. (The FP16 recipe differs from both by
// E4M3's step: ~3.6% rel-L2 on zero-mean V; it is checked against its own contract and dense
// attention only.)
void expect_close_to_hopper(SageKernel kernel, const Tensor& got, const Tensor& hopper) {
  if (kernel == SageKernel::PortableFp8 && hopper.defined()) {
    EXPECT_LE(rel_l2(got, hopper), 2e-2) << "against the Hopper kernel";
  }
}

// N(0, 1) around a per-(head, channel) offset shared by every token (sage_attention_test's
// DiT-like inputs), rounded to bf16: f32 copy on the CPU, bf16 copy on the GPU.
struct Input {
  Tensor cpu, gpu;
};
Input dit_like(Shape shape, float magnitude = 1.f) {
  Tensor x = testing::randn_with_channel_offsets(std::move(shape));
  for (float& e : x.f32()) e *= magnitude;
  const Tensor gpu = x.to(DType::BF16).to(kGpu);
  return {gpu.to(Device::cpu()).to(DType::F32), gpu};
}

std::vector<float> floats(const Tensor& t) {
  const Tensor c = t.to(Device::cpu()).to(DType::F32);
  return {c.data<float>(), c.data<float>() + c.numel()};
}

std::vector<uint8_t> bytes(const Tensor& t) {
  const Tensor c = t.to(Device::cpu());
  std::vector<uint8_t> out(size_t(c.nbytes()));
  std::memcpy(out.data(), c.raw_data(), out.size());
  return out;
}

TEST(CudaSageQuantization, MatchesTheCpuPiecesByteForByte) {
  REQUIRE_GPU();
  // 5 heads: 80 channel octets, more than one statistics CTA holds; 333 tokens: partial blocks.
  const int64_t B = 2, S = 333, H = 5, D = 128;
  const Input q = dit_like({B, S, H, D}), k = dit_like({B, S, H, D}), v = dit_like({B, S, H, D});
  const float multiplier = sage_q_multiplier(1.f / std::sqrt(float(D)));
  const ops::cuda::SageDeviceInputs gpu = ops::cuda::sage_quantize(q.gpu, k.gpu, v.gpu, multiplier);

  const SageInt8 q_cpu = ops::cpu::sage_quantize_int8(q.cpu, SageInt8Grouping::Query, multiplier);
  EXPECT_EQ(bytes(gpu.q_int8), bytes(q_cpu.values)) << "Q's INT8 values";
  EXPECT_EQ(floats(gpu.q_scales), floats(q_cpu.scales)) << "Q's scales";

  // K's token mean: the GPU sums in f32 chunks, the CPU in double, so a value may sit one step
  // apart at a rounding tie; the scales agree to f32 rounding.
  const SageInt8 k_cpu =
      ops::cpu::sage_quantize_int8(ops::cpu::sage_smooth_k(k.cpu), SageInt8Grouping::Key);
  const std::vector<uint8_t> kg = bytes(gpu.k_int8), kc = bytes(k_cpu.values);
  ASSERT_EQ(kg.size(), kc.size());
  int64_t off_by_one = 0;
  for (size_t i = 0; i < kg.size(); ++i) {
    const int d = int(int8_t(kg[i])) - int(int8_t(kc[i]));
    ASSERT_LE(std::abs(d), 1) << "K value " << i;
    off_by_one += d != 0;
  }
  EXPECT_LE(off_by_one, int64_t(kg.size() / 1000)) << "K values one step apart";
  const std::vector<float> ksg = floats(gpu.k_scales), ksc = floats(k_cpu.scales);
  ASSERT_EQ(ksg.size(), ksc.size());
  for (size_t i = 0; i < ksg.size(); ++i) EXPECT_NEAR(ksg[i], ksc[i], 1e-5f * ksc[i]) << i;

  // V: per-channel scales exactly; Vᵀ's bytes at their sage_v_slot positions, padding zero.
  const SageV v_cpu = ops::cpu::sage_quantize_v(v.cpu);
  EXPECT_EQ(floats(gpu.v_scales), floats(v_cpu.scales)) << "V's scales";
  const std::vector<uint8_t> vt = bytes(gpu.v_fp8_t), vc = bytes(v_cpu.values);
  const int64_t S_pad = gpu.v_fp8_t.size(3);
  ASSERT_EQ(S_pad, 384);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t c = 0; c < D; ++c)
        for (int64_t n = 0; n < S_pad; ++n) {
          const int64_t slot = n / 16 * 16 + ops::cuda::sage_v_slot(int(n % 16));
          const uint8_t got = vt[size_t(((b * H + h) * D + c) * S_pad + slot)];
          const uint8_t want = n < S ? vc[size_t(((b * S + n) * H + h) * D + c)] : 0;
          ASSERT_EQ(got, want) << "b " << b << " h " << h << " channel " << c << " key " << n;
        }
}

// The portable kernel's FP16 P̃·V reads V as F16Keys: the CPU's FP16 recipe values exactly
// (f16(v / scale)), keys in sequence order, padding zero; Q and K as in the E4M3 layout.
TEST(CudaSageQuantization, F16LayoutHoldsTheFp16RecipesValuesInKeyOrder) {
  REQUIRE_GPU();
  const int64_t B = 2, S = 333, H = 3, D = 128;
  const Input q = dit_like({B, S, H, D}), k = dit_like({B, S, H, D}), v = dit_like({B, S, H, D});
  const float multiplier = sage_q_multiplier(1.f / std::sqrt(float(D)));
  const ops::cuda::SageDeviceInputs e4m3 =
      ops::cuda::sage_quantize(q.gpu, k.gpu, v.gpu, multiplier);
  const ops::cuda::SageDeviceInputs f16 =
      ops::cuda::sage_quantize(q.gpu, k.gpu, v.gpu, multiplier, ops::cuda::SageVLayout::F16Keys);
  EXPECT_FALSE(f16.v_fp8_t.defined());
  EXPECT_FALSE(e4m3.v_f16_t.defined());
  EXPECT_EQ(bytes(f16.q_int8), bytes(e4m3.q_int8));
  EXPECT_EQ(floats(f16.q_scales), floats(e4m3.q_scales));
  EXPECT_EQ(bytes(f16.k_int8), bytes(e4m3.k_int8));
  EXPECT_EQ(floats(f16.k_scales), floats(e4m3.k_scales));

  const SageV v_cpu = ops::cpu::sage_quantize_v(v.cpu, SagePvFormat::F16);
  EXPECT_EQ(floats(f16.v_scales), floats(v_cpu.scales)) << "V's scales";
  ASSERT_EQ(f16.v_f16_t.dtype(), DType::F16);
  ASSERT_EQ(f16.v_f16_t.shape(), (Shape{B, H, D, 384}));
  const std::vector<float> vt = floats(f16.v_f16_t), vc = floats(v_cpu.values);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t c = 0; c < D; ++c)
        for (int64_t n = 0; n < 384; ++n) {
          const float got = vt[size_t(((b * H + h) * D + c) * 384 + n)];
          const float want = n < S ? vc[size_t(((b * S + n) * H + h) * D + c)] : 0.f;
          ASSERT_EQ(got, want) << "b " << b << " h " << h << " channel " << c << " key " << n;
        }
}

struct Case {
  int64_t batch, seq, heads;
  int64_t head_dim = 128;
};

// Every kernel here against the contract and dense attention; on Hopper the portable ones also
// against Hopper's; ops::sage_attention runs the automatic choice (the same bytes).
TEST(CudaSageAttention, EveryKernelHereMatchesTheCpuContractDenseAttentionAndTheOthers) {
  REQUIRE_GPU();
  const CudaDeviceInfo& info = CudaContext::get(0).info();
  const SageKernel automatic = sage_kernel_for(info.major, info.minor);
  // B 1, S 2200, H 12 on a 132-SM H200: 144 tiles of 192 rows; the last 12 (head 11's, the one
  // of 88 rows among them) run as 4 key ranges each, the last with a partial key block
  // (sage_tail_splits), and are merged.
  // The last case at head_dim 64: the kernels' 128 channels, zero-padded.
  for (const Case& c :
       {Case{2, 333, 3}, Case{1, 2200, 12}, Case{1, 128, 2}, Case{2, 77, 3}, Case{2, 333, 3, 64}}) {
    SCOPED_TRACE(str_cat("B ", c.batch, " S ", c.seq, " H ", c.heads, " D ", c.head_dim));
    const Shape shape{c.batch, c.seq, c.heads, c.head_dim};
    const Input q = dit_like(shape), k = dit_like(shape), v = dit_like(shape);
    const float scale = 1.f / std::sqrt(float(c.head_dim));
    const Tensor dense = testing::reference_attention(q.cpu, k.cpu, v.cpu, scale);
    Tensor hopper;
    for (SageKernel kernel : kernels_here()) {
      SCOPED_TRACE(kernel_name(kernel));
      const Tensor contract = contract_of(kernel, q.cpu, k.cpu, v.cpu, scale);
      const Tensor out = ops::cuda::sage_attention_with(kernel, q.gpu, k.gpu, v.gpu, scale);
      ASSERT_EQ(out.shape(), shape);
      const Tensor got = out.to(Device::cpu()).to(DType::F32);
      for (float x : floats(got)) ASSERT_TRUE(std::isfinite(x)) << "NaN or Inf in the output";
      EXPECT_LE(rel_l2(got, contract), 1e-2) << "against the CPU contract";
      EXPECT_GE(testing::cosine(got, dense), 0.999) << "against dense attention";
      EXPECT_LE(rel_l2(got, dense), 3e-2) << "against dense attention";
      if (kernel == SageKernel::Hopper)
        hopper = got;
      else
        expect_close_to_hopper(kernel, got, hopper);
      if (kernel == automatic)
        EXPECT_EQ(bytes(ops::sage_attention(q.gpu, k.gpu, v.gpu, scale)), bytes(out))
            << "ops::sage_attention did not run the automatic choice";
    }
  }
}

// V without channel offsets: with them every output row is mostly the offset, which the
// attention weights cannot change, so an error in P̃ or the P̃·V accumulation shrinks in the
// rel-L2 above. Zero-mean V leaves the weighted sum alone in the norm: each kernel against the
// contract (the same quantization) at 1e-2, and the portable FP8 one against Hopper's.
TEST(CudaSageAttention, EveryKernelHereMatchesTheContractWithZeroMeanValues) {
  REQUIRE_GPU();
  for (const Case& c : {Case{2, 333, 3}, Case{1, 2200, 12}}) {
    SCOPED_TRACE(str_cat("B ", c.batch, " S ", c.seq, " H ", c.heads));
    const Shape shape{c.batch, c.seq, c.heads, 128};
    const Input q = dit_like(shape), k = dit_like(shape);
    const Tensor v_gpu = testing::randn(shape).to(DType::BF16).to(kGpu);
    const Tensor v_cpu = v_gpu.to(Device::cpu()).to(DType::F32);
    const float scale = 1.f / std::sqrt(128.f);
    const Tensor dense = testing::reference_attention(q.cpu, k.cpu, v_cpu, scale);
    Tensor hopper;
    for (SageKernel kernel : kernels_here()) {
      SCOPED_TRACE(kernel_name(kernel));
      const Tensor contract = contract_of(kernel, q.cpu, k.cpu, v_cpu, scale);
      const Tensor got = ops::cuda::sage_attention_with(kernel, q.gpu, k.gpu, v_gpu, scale)
                             .to(Device::cpu())
                             .to(DType::F32);
      for (float x : floats(got)) ASSERT_TRUE(std::isfinite(x)) << "NaN or Inf in the output";
      const double to_contract = rel_l2(got, contract);
      std::printf(
          "[sage zero-mean V] %s B %lld S %lld H %lld: rel-L2 %.3g to the contract, %.3g "
          "to dense attention\n",
          kernel_name(kernel), static_cast<long long>(c.batch), static_cast<long long>(c.seq),
          static_cast<long long>(c.heads), to_contract, rel_l2(got, dense));
      EXPECT_LE(to_contract, 1e-2) << "against the CPU contract";
      if (kernel == SageKernel::Hopper)
        hopper = got;
      else
        expect_close_to_hopper(kernel, got, hopper);
    }
  }
}

// The portable kernels write every row of a given output (poisoned with NaN) and nothing else goes
// wrong at the edges: 33 queries (the 128-row query tile mostly past the sequence, its last warps
// past the last 64-row block's scales) over 300 keys (Sq ≠ Sk, a partial key block whose 44 keys
// leave the FP8 kernel's 128-key stage a second softmax step wholly past Sk), and 333 / 333 (13
// keys in the last step).
TEST(CudaSageAttention, PortableKernelsWriteEveryRowOfAPoisonedOutput) {
  REQUIRE_GPU();
  for (const auto& [sq, sk] : {std::pair<int64_t, int64_t>{33, 300}, {333, 333}}) {
    SCOPED_TRACE(str_cat("Sq ", sq, " Sk ", sk));
    const int64_t B = 2, H = 3, D = 128;
    const Input q = dit_like({B, sq, H, D}), k = dit_like({B, sk, H, D}),
                v = dit_like({B, sk, H, D});
    const float scale = 1.f / std::sqrt(float(D));
    for (SageKernel kernel : kernels_here()) {
      if (kernel == SageKernel::Hopper) continue;
      SCOPED_TRACE(kernel_name(kernel));
      const Tensor contract = contract_of(kernel, q.cpu, k.cpu, v.cpu, scale);
      const ops::cuda::SageDeviceInputs in = ops::cuda::sage_quantize(
          q.gpu, k.gpu, v.gpu, sage_q_multiplier(scale),
          kernel == SageKernel::PortableF16 ? ops::cuda::SageVLayout::F16Keys
                                            : ops::cuda::SageVLayout::E4m3Slots);
      const Tensor out = Tensor::full({B, sq, H, D}, std::numeric_limits<float>::quiet_NaN())
                             .to(DType::BF16)
                             .to(kGpu);
      ops::cuda::portable_sage_attention(in, out);
      const Tensor got = out.to(Device::cpu()).to(DType::F32);
      for (float x : floats(got)) ASSERT_TRUE(std::isfinite(x)) << "a row was not written";
      EXPECT_LE(rel_l2(got, contract), 1e-2) << "against the CPU contract";
    }
  }
}

// Each kernel rounds P̃ as its recipe says (sage_attention_test's
// TheSoftmaxBlockDecidesWhichMaxPIsRoundedAgainst, on the GPU): one query, 128 keys at one logit
// and key 64 about 7.08 base-2 units above them; V channel 0 is 448 on key 0 only, channel 1 448
// on key 64 only, so 448·O[0] / O[1] is key 0's weight in P̃·V. Hopper's 128-key blocks round it
// to E4M3 against key 64's max (3.25); the portable kernels' 64-key blocks hold key 0 as their max
// (P̃ = 448, exact in E4M3 and FP16) and scale it by the step's rescale in f32 (≈3.32). The
// contract's rel-L2 bar cannot tell these apart; this probe can, at the bf16 output's 0.4%.
TEST(CudaSageAttention, EachKernelRoundsPAgainstItsOwnSoftmaxBlock) {
  REQUIRE_GPU();
  const int64_t D = 64, S = 128;
  Tensor q = Tensor::zeros({1, 1, 1, D}, DType::F32), k = Tensor::zeros({1, S, 1, D}, DType::F32),
         v = Tensor::zeros({1, S, 1, D}, DType::F32);
  q.data<float>()[0] = 1.f;
  k.data<float>()[64 * D] = 7.085f / 1.4426950f;
  v.data<float>()[0] = 448.f;
  v.data<float>()[64 * D + 1] = 448.f;
  const auto bf16 = [](const Tensor& t) { return t.to(DType::BF16).to(DType::F32); };
  q = bf16(q), k = bf16(k), v = bf16(v);
  const auto key0_weight = [](const Tensor& out) {
    const std::vector<float> o = floats(out.to(Device::cpu()).to(DType::F32));
    return 448.0 * o[0] / o[1];
  };
  const double hopper_recipe = key0_weight(ops::cpu::sage_attention(q, k, v, 1.f));
  const double portable_recipe =
      key0_weight(ops::cpu::sage_attention(q, k, v, 1.f, sage_recipe(SageKernel::PortableFp8)));
  ASSERT_NEAR(hopper_recipe, 3.25, 1e-4) << "the probe did not come out as built";
  ASSERT_GT(portable_recipe, 3.25 * 1.015) << "the probe cannot tell the blocks apart";
  for (SageKernel kernel : kernels_here()) {
    SCOPED_TRACE(kernel_name(kernel));
    const double want = key0_weight(ops::cpu::sage_attention(q, k, v, 1.f, sage_recipe(kernel)));
    const double got = key0_weight(ops::cuda::sage_attention_with(
        kernel, q.to(DType::BF16).to(kGpu), k.to(DType::BF16).to(kGpu), v.to(DType::BF16).to(kGpu),
        1.f));
    EXPECT_NEAR(got, want, 0.006 * want);
  }
}

// ×20 q, k, v (base-2 logits in the thousands; sage_attention_test's CPU case): no NaN or Inf, and
// every output a weighted mean of v, within each channel's max|v| up to P̃'s E4M3 step.
TEST(CudaSageAttention, EveryKernelHereStaysFiniteAndBoundedAtTwentyTimesTheMagnitude) {
  REQUIRE_GPU();
  const int64_t B = 2, S = 200, H = 3, D = 128;
  const Input q = dit_like({B, S, H, D}, 20.f), k = dit_like({B, S, H, D}, 20.f),
              v = dit_like({B, S, H, D}, 20.f);
  std::vector<float> vmax(size_t(B * H * D), 0.f);
  const float* vc = v.cpu.data<float>();
  for (int64_t i = 0; i < v.cpu.numel(); ++i) {
    float& m = vmax[size_t(i / (S * H * D) * H * D + i % (H * D))];
    m = std::max(m, std::fabs(vc[i]));
  }
  for (SageKernel kernel : kernels_here()) {
    SCOPED_TRACE(kernel_name(kernel));
    const std::vector<float> out = floats(
        ops::cuda::sage_attention_with(kernel, q.gpu, k.gpu, v.gpu, 1.f / std::sqrt(float(D))));
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_TRUE(std::isfinite(out[i])) << "element " << i;
      const float bound = vmax[size_t(int64_t(i) / (S * H * D) * H * D + int64_t(i) % (H * D))];
      ASSERT_LE(std::fabs(out[i]), bound * (1 + 1.f / 16) * 1.01f) << "element " << i;
    }
  }
}

// q and k near 1e-22: the product of their scales underflows to 0, the logits are all ~0 and
// attention is V's mean over the keys. S 200 leaves a partial last key step, whose masked keys
// must stay out of the sum rather than turn into NaN.
TEST(CudaSageAttention, EveryKernelHereStaysFiniteWhereTheScalesUnderflow) {
  REQUIRE_GPU();
  const int64_t B = 1, S = 200, H = 2, D = 128;
  const Input q = dit_like({B, S, H, D}, 1e-22f), k = dit_like({B, S, H, D}, 1e-22f),
              v = dit_like({B, S, H, D});
  const float scale = 1.f / std::sqrt(float(D));
  const Tensor dense = testing::reference_attention(q.cpu, k.cpu, v.cpu, scale);
  for (SageKernel kernel : kernels_here()) {
    SCOPED_TRACE(kernel_name(kernel));
    const Tensor got = ops::cuda::sage_attention_with(kernel, q.gpu, k.gpu, v.gpu, scale)
                           .to(Device::cpu())
                           .to(DType::F32);
    for (float x : floats(got)) ASSERT_TRUE(std::isfinite(x)) << "NaN or Inf in the output";
    EXPECT_LE(rel_l2(got, dense), 3e-2) << "against dense attention (V's mean)";
  }
}

// SageSLA on the GPU (SAGE_ATTN's kernel over the selected blocks, SLA's block map and linear
// branch, which the kernel adds to its output rows) against its CPU twin on the same bf16-rounded
// inputs: the same blocks, outputs within 1e-2, with and without proj_l, every feature map; and
// the projected linear branch alone (the difference of the two runs) within 1e-2 too.
TEST(CudaSageAttention, SageSlaMatchesTheCpuOp) {
  REQUIRE_GPU();
  if (!is_hopper()) GTEST_SKIP() << "SAGE_SLA_ATTN's kernel needs sm_90";
  // One step (q's rows for the linear branch fetched after it), two, and five (fetched as the
  // last step begins, after the stages' refills).
  for (const auto& [S, ratio] : {std::pair<int64_t, double>{333, 0.5}, {1000, 0.3}, {1300, 0.5}}) {
    const Shape shape{2, S, 3, 128};
    const Input q = dit_like(shape), k = dit_like(shape), v = dit_like(shape);
    const Tensor w = testing::randn({128, 128}, 0.5f), b = testing::randn({128}, 0.1f);
    const float scale = 1.f / std::sqrt(128.f);
    for (SlaFeatureMap map :
         {SlaFeatureMap::Softmax, SlaFeatureMap::EluPlusOne, SlaFeatureMap::Relu}) {
      SCOPED_TRACE(str_cat("S ", S, " topk_ratio ", ratio, " feature map ", int(map)));
      SlaConfig config = sage_sla_config(ratio);
      config.feature_map = map;
      Tensor got[2], want[2];
      for (bool proj : {false, true}) {
        SCOPED_TRACE(proj ? "with proj_l" : "without proj_l");
        SlaSelection gpu_sel, cpu_sel;
        got[proj] = ops::sparse_linear_attention(q.gpu, k.gpu, v.gpu, config, scale,
                                                 proj ? w.to(kGpu) : Tensor(),
                                                 proj ? b.to(kGpu) : Tensor(), &gpu_sel)
                        .to(Device::cpu())
                        .to(DType::F32);
        want[proj] = ops::sparse_linear_attention(
            q.cpu, k.cpu, v.cpu, config, scale, proj ? w : Tensor(), proj ? b : Tensor(), &cpu_sel);
        // The block map's scores come from the pre-pass's block means (sage_quantize).
        EXPECT_LT(rel_l2(gpu_sel.scores.to(Device::cpu()), cpu_sel.scores), 1e-5)
            << "the block scores";
        EXPECT_EQ(bytes(gpu_sel.selected), bytes(cpu_sel.selected)) << "the selected blocks";
        EXPECT_TRUE(ops::all_finite(got[proj])) << "NaN or Inf in the output";
        EXPECT_LE(rel_l2(got[proj], want[proj]), 1e-2);
      }
      const Tensor projected = ops::add(got[1], ops::scale(got[0], -1.f));
      const Tensor projected_ref = ops::add(want[1], ops::scale(want[0], -1.f));
      EXPECT_LE(rel_l2(projected, projected_ref), 1e-2) << "the projected linear branch";
    }
  }
}

// The Hopper kernel's last-wave split with two batch items and more keys than queries: B 2, Sq
// 600, Sk 2000, H 3 is 24 tiles of 16 key blocks on a 132-SM H200, each cut into 4 key ranges
// (sage_tail_splits), the last with a partial key block, and merged.
TEST(CudaSageAttention, HopperKernelCutsTilesAcrossBatchItemsAndLongerKeys) {
  REQUIRE_GPU();
  if (!is_hopper()) GTEST_SKIP() << "the kernel that cuts its tiles into key ranges needs sm_90";
  const Input q = dit_like({2, 600, 3, 128}), k = dit_like({2, 2000, 3, 128}),
              v = dit_like({2, 2000, 3, 128});
  const float scale = 1.f / std::sqrt(128.f);
  const Tensor got = ops::cuda::sage_attention_with(SageKernel::Hopper, q.gpu, k.gpu, v.gpu, scale)
                         .to(Device::cpu())
                         .to(DType::F32);
  ASSERT_EQ(got.shape(), (Shape{2, 600, 3, 128}));
  for (float x : floats(got)) ASSERT_TRUE(std::isfinite(x)) << "NaN or Inf in the output";
  EXPECT_LE(rel_l2(got, ops::cpu::sage_attention(q.cpu, k.cpu, v.cpu, scale)), 1e-2)
      << "against the CPU contract";
  EXPECT_GE(testing::cosine(got, testing::reference_attention(q.cpu, k.cpu, v.cpu, scale)), 0.999)
      << "against dense attention";
}

// The dense Hopper kernel's split of its last wave (no GPU needed).
TEST(CudaSageAttention, TailSplitsFillTheLastWave) {
  // (1,12,32760,128): 2052 tiles of 256 key blocks, 72 in the last wave: 9 ranges of at most
  // 29 blocks = 648 units in 5 waves (cost 5·31 = 155 blocks against 258 unsplit).
  EXPECT_EQ(ops::cuda::sage_tail_splits(2052, 256, 132), 9);
  // (1,40,75600,128): 15760 tiles of 591 blocks, 52 in the last wave: 5 ranges, 2 waves.
  EXPECT_EQ(ops::cuda::sage_tail_splits(15760, 591, 132), 5);
  EXPECT_EQ(ops::cuda::sage_tail_splits(144, 18, 132), 4);    // the contract test's B 1, S 2200
  EXPECT_EQ(ops::cuda::sage_tail_splits(24, 16, 132), 4);     // the test above
  EXPECT_EQ(ops::cuda::sage_tail_splits(1980, 256, 132), 1);  // whole waves
  EXPECT_EQ(ops::cuda::sage_tail_splits(72, 8, 132), 1);      // too few key blocks to pay
  EXPECT_EQ(ops::cuda::sage_tail_splits(12, 3, 132), 1);
}

TEST(CudaSageAttention, RefusesWhatItLacksNamingIt) {
  REQUIRE_GPU();
  const Tensor q96 = testing::randn({1, 64, 2, 96}).to(DType::BF16).to(kGpu);
  std::string m = testing::error_of([&] { ops::sage_attention(q96, q96, q96, 0.125f); });
  EXPECT_NE(m.find("supports head_dim 64 and 128"), std::string::npos) << m;
  EXPECT_NE(m.find("got head_dim 96"), std::string::npos) << m;
  // The pre-pass's grids put batch items and heads in y and z.
  const Tensor many = Tensor::zeros({65536, 1, 1, 128}, DType::BF16, kGpu);
  m = testing::error_of([&] { ops::sage_attention(many, many, many, 0.125f); });
  EXPECT_NE(m.find("at most 65535 batch items and heads"), std::string::npos) << m;
  // A kernel this GPU cannot run, asked for by name, is refused naming the GPU's sm_XY.
  const CudaDeviceInfo& info = CudaContext::get(0).info();
  const std::string sm = str_cat("sm_", 10 * info.major + info.minor);
  const Tensor q128 = testing::randn({1, 64, 2, 128}).to(DType::BF16).to(kGpu);
  const std::vector<SageKernel> here = kernels_here();
  for (SageKernel kernel : {SageKernel::Hopper, SageKernel::PortableFp8, SageKernel::PortableF16}) {
    if (std::find(here.begin(), here.end(), kernel) != here.end()) continue;
    m = testing::error_of(
        [&] { ops::cuda::sage_attention_with(kernel, q128, q128, q128, 0.125f); });
    EXPECT_NE(m.find(sm), std::string::npos) << kernel_name(kernel) << ": " << m;
  }
}

}  // namespace
}  // namespace fastvideo
