// SAGE_ATTN on a GPU (ops/cuda/sage_attention.cpp) against its CPU contract (ops/sage_attention.h)
// on bf16-rounded random inputs: the quantization pre-pass piece by piece against the CPU pieces
// (same groups, scales and bytes), the whole op against ops::cpu::sage_attention (rel-L2 ≤ 1e-2:
// the GPU's exp2 is approximate and its FP8 MMA accumulates in ~22 bits) and against dense
// attention in double on DiT-like inputs (cosine ≥ 0.999, rel-L2 ≤ 3e-2, the bound), odd
// sequence lengths (partial key and query blocks), batch 2, heads 3 and 12; NaN is a failure.
// Skips where no GPU exists.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/cuda/cuda_context.h"
#include "ops/cuda/sage_kernels.h"
#include "ops/sage_attention.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::rel_l2;

const Device kGpu = Device::cuda(0);

bool is_hopper() { return CudaContext::get(0).info().major == 9; }

// N(0, 1) around a per-(head, channel) offset shared by every token (sage_attention_test's
// DiT-like inputs), rounded to bf16: f32 copy on the CPU, bf16 copy on the GPU.
struct Input {
  Tensor cpu, gpu;
};
Input dit_like(Shape shape) {
  const Tensor gpu =
      testing::randn_with_channel_offsets(std::move(shape)).to(DType::BF16).to(kGpu);
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
  const int64_t B = 2, S = 333, H = 3, D = 128;
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
  const SageFp8 v_cpu = ops::cpu::sage_quantize_v(v.cpu);
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

struct Case {
  int64_t batch, seq, heads;
};

TEST(CudaSageAttention, MatchesTheCpuContractAndDenseAttention) {
  REQUIRE_GPU();
  if (!is_hopper()) GTEST_SKIP() << "the SAGE_ATTN kernel needs sm_90";
  for (const Case& c : {Case{2, 333, 3}, Case{1, 1000, 12}, Case{1, 128, 2}, Case{2, 77, 3}}) {
    SCOPED_TRACE(str_cat("B ", c.batch, " S ", c.seq, " H ", c.heads));
    const Shape shape{c.batch, c.seq, c.heads, 128};
    const Input q = dit_like(shape), k = dit_like(shape), v = dit_like(shape);
    const float scale = 1.f / std::sqrt(128.f);
    const Tensor out = ops::sage_attention(q.gpu, k.gpu, v.gpu, scale);
    ASSERT_EQ(out.shape(), shape);
    const Tensor got = out.to(Device::cpu()).to(DType::F32);
    for (float x : floats(got)) ASSERT_TRUE(std::isfinite(x)) << "NaN or Inf in the output";
    const Tensor contract = ops::cpu::sage_attention(q.cpu, k.cpu, v.cpu, scale);
    EXPECT_LE(rel_l2(got, contract), 1e-2) << "against the CPU contract";
    const Tensor dense = testing::reference_attention(q.cpu, k.cpu, v.cpu, scale);
    EXPECT_GE(testing::cosine(got, dense), 0.999) << "against dense attention";
    EXPECT_LE(rel_l2(got, dense), 3e-2) << "against dense attention";
  }
}

TEST(CudaSageAttention, RefusesWhatItLacksNamingIt) {
  REQUIRE_GPU();
  const Tensor q64 = testing::randn({1, 64, 2, 64}).to(DType::BF16).to(kGpu);
  try {
    ops::sage_attention(q64, q64, q64, 0.125f);
    FAIL() << "head_dim 64 ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(is_hopper() ? "head_dim 64" : "sm_90"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace fastvideo
