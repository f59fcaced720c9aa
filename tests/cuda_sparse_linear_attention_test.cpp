// SLA_ATTN on a GPU (ops/cuda/sparse_linear_attention.cpp) against its CPU twin (ops::cpu::
// sparse_linear_attention, itself checked against the text in sparse_linear_attention_test.cpp) on
// fresh bf16-rounded random inputs: odd lengths (partial 64- and 128-token blocks; one with an odd
// number of 64-row query tiles), batch 2, heads 3 and 12, topk_ratio 0.1 / 0.5 / 1.0, with and
// without proj_l, every feature map. The block scores within 1e-5 and the selected blocks equal to
// the CPU's row by row (a row may differ only at an fp32 tie, reported, and its query block is left
// out of the output's comparison); output rel-L2 ≤ 1e-2, and
// the projected linear branch alone (the difference of the two runs) too; NaN-free with the
// output's memory poisoned first. The linear branch's key pass: the same bits at every ring depth
// and with SAGE's k and v statistics filled on the way, which match the CPU's, and SAGE's pre-pass
// on them quantizes as on its own. The op refuses what the GPU path lacks; the SLA_ATTN backend is
// available on this GPU and runs the op. Skips where no GPU exists.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <optional>
#include <tuple>
#include <vector>

#include "attention/attention_registry.h"
#include "attention/attention_selection.h"
#include "core/cuda/cuda_context.h"
#include "device_poison.h"
#include "ops/block_selection.h"
#include "ops/cuda/sage_kernels.h"
#include "ops/cuda/sla_kernels.h"
#include "ops/cuda/vsa_fine_stage.h"
#include "ops/elementwise.h"
#include "ops/sage_attention.h"
#include "ops/sparse_linear_attention.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::rel_l2;

const Device kGpu = Device::cuda(0);
constexpr double kBound = 1e-2;  // bf16 attention (DESIGN §3)
constexpr int64_t kD = 128;

// A random f32 tensor rounded to bf16 (what the GPU sees), and its bf16 copy on the GPU.
struct Input {
  Tensor cpu, gpu;
};
Input random_input(Shape shape) {
  const Tensor gpu = testing::randn(shape).to(DType::BF16).to(kGpu);
  return {gpu.to(Device::cpu()).to(DType::F32), gpu};
}

// proj_l in f32, on the CPU and on the GPU.
struct Proj {
  Tensor w, b, w_gpu, b_gpu;
};
Proj random_proj() {
  Proj p{testing::randn({kD, kD}, 0.5f), testing::randn({kD}, 0.1f), {}, {}};
  p.w_gpu = p.w.to(kGpu);
  p.b_gpu = p.b.to(kGpu);
  return p;
}

Tensor on_cpu_f32(const Tensor& t) { return t.to(Device::cpu()).to(DType::F32); }

// The GPU's selection against the CPU's, row by row. A row may differ only where the CPU's own
// scores of the blocks that changed sides lie within 1e-5 of the row's largest score (a tie that
// fp32 rounding in a different summation order can break either way; about one row in a million of
// random scores); such rows are reported and must still follow the rule on the GPU's own scores, as
// every row must. Returns the rows (b·H + h)·N_q + query block that differ at such a tie.
std::vector<int64_t> expect_same_selection(const SlaSelection& gpu, const SlaSelection& cpu) {
  const Tensor gpu_scores = gpu.scores.to(Device::cpu());
  const Tensor gpu_selected = gpu.selected.to(Device::cpu());
  EXPECT_EQ(gpu_scores.shape(), cpu.scores.shape());
  EXPECT_EQ(gpu_selected.shape(), cpu.selected.shape());
  if (gpu_scores.shape() != cpu.scores.shape() || gpu_selected.shape() != cpu.selected.shape())
    return {};
  EXPECT_LT(rel_l2(gpu_scores, cpu.scores), 1e-5);
  const int64_t n = cpu.scores.size(3), topk = cpu.selected.size(3);
  const int64_t rows = cpu.selected.numel() / topk;
  std::vector<int32_t> rule(static_cast<size_t>(topk)), only_gpu, only_cpu;
  std::vector<int64_t> tied_rows;
  int64_t mismatches = 0, rule_breaks = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* g = gpu_selected.data<int32_t>() + r * topk;
    const int32_t* c = cpu.selected.data<int32_t>() + r * topk;
    select_top_blocks(gpu_scores.data<float>() + r * n, n, topk, rule.data());
    rule_breaks += !std::equal(rule.begin(), rule.end(), g);
    if (std::equal(g, g + topk, c)) continue;
    const float* s = cpu.scores.data<float>() + r * n;
    float largest = 0.f;
    for (int64_t j = 0; j < n; ++j) largest = std::max(largest, std::abs(s[j]));
    only_gpu.clear();
    only_cpu.clear();
    std::set_difference(g, g + topk, c, c + topk, std::back_inserter(only_gpu));
    std::set_difference(c, c + topk, g, g + topk, std::back_inserter(only_cpu));
    float lowest_cpu = INFINITY, highest_gpu = -INFINITY;
    for (int32_t j : only_cpu) lowest_cpu = std::min(lowest_cpu, s[j]);
    for (int32_t j : only_gpu) highest_gpu = std::max(highest_gpu, s[j]);
    const bool tie = !only_cpu.empty() && std::abs(lowest_cpu - highest_gpu) <= 1e-5f * largest;
    if (tie)
      tied_rows.push_back(r);
    else
      ++mismatches;
  }
  EXPECT_EQ(mismatches, 0) << "rows whose selected blocks differ from the CPU's, of " << rows;
  EXPECT_EQ(rule_breaks, 0) << "rows that break select_top_blocks' rule on the GPU's scores";
  if (!tied_rows.empty())
    std::printf("[sla] %zu of %lld rows differ from the CPU's at an fp32 tie\n", tied_rows.size(),
                static_cast<long long>(rows));
  return tied_rows;
}

// rel-L2 of a against b ([B, S, H, D]) over every token but those of the given query blocks (rows
// as expect_same_selection numbers them): a block taken at a tie instead of its twin changes those
// rows' sparse branch by a whole block, and only theirs.
double rel_l2_outside(const Tensor& a, const Tensor& b, const std::vector<int64_t>& rows,
                      int64_t block_q) {
  const int64_t S = a.size(1), H = a.size(2), D = a.size(3);
  const int64_t Nq = (S + block_q - 1) / block_q;
  Tensor x = a.clone(), y = b.clone();  // those rows zero in both: out of the sum and the norm
  for (int64_t r : rows) {
    const int64_t bh = r / Nq, qb = r % Nq, bi = bh / H, h = bh % H;
    for (int64_t s = qb * block_q; s < std::min(S, (qb + 1) * block_q); ++s) {
      std::fill_n(x.data<float>() + ((bi * S + s) * H + h) * D, D, 0.f);
      std::fill_n(y.data<float>() + ((bi * S + s) * H + h) * D, D, 0.f);
    }
  }
  return rel_l2(x, y);
}

struct Case {
  int64_t S, H;
  double ratio;
  SlaFeatureMap map = SlaFeatureMap::Softmax;
};

// Both runs, without and with proj_l, on one set of inputs.
void expect_matches_cpu(const Case& c) {
  SCOPED_TRACE(
      str_cat("S=", c.S, " H=", c.H, " topk_ratio ", c.ratio, " feature map ", int(c.map)));
  const int64_t B = 2;
  const Shape shape{B, c.S, c.H, kD};
  const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
  const Proj p = random_proj();
  const SlaConfig config{c.ratio, 128, 64, c.map};
  const float scale = 1.f / std::sqrt(float(kD));

  Tensor out[2], ref[2];
  for (int with_proj = 0; with_proj < 2; ++with_proj) {
    SCOPED_TRACE(with_proj ? "with proj_l" : "without proj_l");
    SlaSelection gpu_sel, cpu_sel;
    testing::poison_next_outputs(shape, kGpu);
    out[with_proj] = on_cpu_f32(ops::sparse_linear_attention(
        q.gpu, k.gpu, v.gpu, config, scale, with_proj ? p.w_gpu : Tensor(),
        with_proj ? p.b_gpu : Tensor(), &gpu_sel));
    ref[with_proj] =
        ops::sparse_linear_attention(q.cpu, k.cpu, v.cpu, config, scale, with_proj ? p.w : Tensor(),
                                     with_proj ? p.b : Tensor(), &cpu_sel);
    EXPECT_TRUE(ops::all_finite(out[with_proj])) << "NaN/Inf in the GPU output";
    const std::vector<int64_t> tied_rows = expect_same_selection(gpu_sel, cpu_sel);
    EXPECT_LT(rel_l2_outside(out[with_proj], ref[with_proj], tied_rows, config.block_q), kBound);
  }
  // proj_l(O_linear) alone: what adding proj_l changed, on each device.
  const Tensor projected = ops::add(out[1], ops::scale(out[0], -1.f));
  const Tensor projected_ref = ops::add(ref[1], ops::scale(ref[0], -1.f));
  EXPECT_LT(rel_l2(projected, projected_ref), kBound) << "the projected linear branch";
}

TEST(CudaSparseLinearAttention, MatchesTheCpuOpOnOddLengths) {
  REQUIRE_GPU();
  // 1001 tokens: 16 key blocks (the last of 41), 8 query blocks (the last of 105). 937: 15 key
  // blocks, 8 query blocks whose last (41 rows) is one 64-row tile, so 15 query tiles.
  for (int64_t S : {1001, 937})
    for (int64_t H : {3, 12})
      for (double ratio : {0.1, 0.5, 1.0}) expect_matches_cpu({S, H, ratio});
}

TEST(CudaSparseLinearAttention, MatchesTheCpuOpWithEveryFeatureMap) {
  REQUIRE_GPU();
  expect_matches_cpu({777, 3, 0.5, SlaFeatureMap::EluPlusOne});
  expect_matches_cpu({777, 3, 0.5, SlaFeatureMap::Relu});
  expect_matches_cpu({4099, 12, 0.1});  // 65 key blocks: a longer selection row
  // The linear branch's key pass in 1,536-token chunks: a last chunk of one partial tile, and a
  // length of whole chunks.
  expect_matches_cpu({1576, 3, 0.5});
  expect_matches_cpu({3072, 3, 0.1});
}

// One run of the key pass -> state, ksum and, with `stats`, SAGE's statistics, on the CPU (the
// statistics also as the GPU buffers the pass filled).
struct KeyPassRun {
  Tensor state, ksum, k_sums, v_absmax;
  ops::cuda::SageKvStats gpu_stats;
};
KeyPassRun run_key_pass(const Input& k, const Input& v, SlaFeatureMap map, int stages, bool stats) {
  const int64_t B = k.gpu.size(0), S = k.gpu.size(1), H = k.gpu.size(2);
  const cudaStream_t stream = use_cuda_device(kGpu.index).stream();
  const Tensor workspace =
      Tensor::empty({ops::cuda::sla_key_state_workspace(B, S, H)}, DType::F32, kGpu);
  const Tensor state = Tensor::empty({B, H, kD, kD}, DType::F32, kGpu);
  const Tensor ksum = Tensor::empty({B, H, kD}, DType::F32, kGpu);
  ops::cuda::SageKvStats buffers;
  if (stats) buffers = ops::cuda::sage_kv_stats_buffers(B, S, H, kGpu);
  ops::cuda::sla_key_state(k.gpu.raw_data(), v.gpu.raw_data(), B, S, H, map,
                           workspace.data<float>(), state.data<float>(), ksum.data<float>(), stream,
                           stats ? buffers.pointers() : ops::cuda::SageStatistics{}, stages);
  KeyPassRun r{state.to(Device::cpu()), ksum.to(Device::cpu()), {}, {}, buffers};
  if (stats) {
    r.k_sums = buffers.k_sums.to(Device::cpu());
    r.v_absmax = buffers.v_absmax.to(Device::cpu());
  }
  return r;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), size_t(a.nbytes())) == 0;
}

// The key pass's tile ring at 2 stages (what sm_86 / sm_89 run) and at the device's own depth (3
// on a Hopper or an A100) gives the same state and Σφ(k), bit for bit: the depth does not touch
// the sums' order. Filling SAGE's statistics on the way changes neither, at either depth, and
// they match the CPU's: k's sums over each 128 tokens within f32 rounding of the double sums,
// max|v| exactly.
TEST(CudaSparseLinearAttention, KeyPassGivesTheSameBitsAtEveryRingDepth) {
  REQUIRE_GPU();
  // 1,576: a last chunk of one partial tile; 1,636: of an even and an odd, partial tile.
  for (int64_t S : {1576, 1636, 3072, 777}) {
    for (SlaFeatureMap map : {SlaFeatureMap::Softmax, SlaFeatureMap::EluPlusOne}) {
      SCOPED_TRACE(str_cat("S=", S, " feature map ", int(map)));
      const int64_t B = 2, H = 3;
      const Input k = random_input({B, S, H, kD}), v = random_input({B, S, H, kD});
      const KeyPassRun base = run_key_pass(k, v, map, 2, false);
      EXPECT_TRUE(ops::all_finite(base.state) && ops::all_finite(base.ksum));
      for (const auto& [stages, stats] : {std::pair{0, false}, {0, true}, {2, true}}) {
        SCOPED_TRACE(str_cat("stages ", stages, stats ? " with SAGE's statistics" : ""));
        const KeyPassRun run = run_key_pass(k, v, map, stages, stats);
        EXPECT_TRUE(same_bits(run.state, base.state)) << "the state differs from 2 stages'";
        EXPECT_TRUE(same_bits(run.ksum, base.ksum)) << "Σφ(k) differs from 2 stages'";
        if (!stats) continue;
        const int64_t blocks = (S + 127) / 128;
        ASSERT_EQ(run.k_sums.shape(), Shape({B, blocks, H * kD}));
        const float* kx = k.cpu.data<float>();
        const float* vx = v.cpu.data<float>();
        int64_t sum_errors = 0, max_errors = 0;
        for (int64_t b = 0; b < B; ++b)
          for (int64_t c = 0; c < H * kD; ++c) {
            float vmax = 0.f;
            for (int64_t blk = 0; blk < blocks; ++blk) {
              double sum = 0, magnitude = 0;
              for (int64_t s = 128 * blk; s < std::min(S, 128 * (blk + 1)); ++s) {
                const float x = kx[(b * S + s) * H * kD + c];
                sum += x, magnitude += std::abs(x);
                vmax = std::max(vmax, std::abs(vx[(b * S + s) * H * kD + c]));
              }
              const float got = run.k_sums.data<float>()[(b * blocks + blk) * H * kD + c];
              sum_errors += !(std::abs(got - sum) <= 1e-5 * magnitude);
            }
            max_errors += run.v_absmax.data<float>()[b * H * kD + c] != vmax;
          }
        EXPECT_EQ(sum_errors, 0) << "128-token sums of k off the CPU's by more than f32 rounding";
        EXPECT_EQ(max_errors, 0) << "channels whose max|v| differs from the CPU's";
      }
    }
  }
}

// SageSLA's pre-pass on the key pass's statistics quantizes as on its own: Q, V and V's scales
// the same bytes (the statistics agree exactly there; Q then goes through quantize_q_kernel's
// ring, Q beside the statistics jobs straight into registers), K within one step at rounding ties
// of its token mean (summed in another order) and its scales and the block means within f32
// rounding. Both shapes end in a partial block; the second gives each of the ring kernel's CTAs
// more jobs than its ring's depth on any GPU of up to 200 SMs.
TEST(CudaSparseLinearAttention, SagePrePassOnTheKeyPassStatisticsQuantizesAsOnItsOwn) {
  REQUIRE_GPU();
  for (const auto& [B, S, H] : {std::tuple<int64_t, int64_t, int64_t>{2, 1576, 3}, {2, 20001, 6}}) {
    SCOPED_TRACE(str_cat("B=", B, " S=", S, " H=", H));
    const Input q = random_input({B, S, H, kD}), k = random_input({B, S, H, kD}),
                v = random_input({B, S, H, kD});
    const ops::cuda::SageKvStats stats =
        run_key_pass(k, v, SlaFeatureMap::Softmax, /*stages=*/0, /*stats=*/true).gpu_stats;
    const float multiplier = sage_q_multiplier(1.f / std::sqrt(float(kD)));
    ops::cuda::SageBlockMeans own_means, given_means;
    const ops::cuda::SageDeviceInputs own = ops::cuda::sage_quantize(
        q.gpu, k.gpu, v.gpu, multiplier, ops::cuda::SageVLayout::E4m3Slots, &own_means);
    const ops::cuda::SageDeviceInputs given = ops::cuda::sage_quantize(
        q.gpu, k.gpu, v.gpu, multiplier, ops::cuda::SageVLayout::E4m3Slots, &given_means, &stats);
    auto host = [](const Tensor& t) { return t.to(Device::cpu()); };
    EXPECT_TRUE(same_bits(host(given.q_int8), host(own.q_int8))) << "Q's INT8 values";
    EXPECT_TRUE(same_bits(host(given.q_scales), host(own.q_scales))) << "Q's scales";
    EXPECT_TRUE(same_bits(host(given.v_scales), host(own.v_scales))) << "V's scales";
    EXPECT_TRUE(same_bits(host(given.v_fp8_t), host(own.v_fp8_t))) << "Vᵀ's bytes";
    const Tensor gk = host(given.k_int8), ok = host(own.k_int8);
    const int8_t* a = static_cast<const int8_t*>(gk.raw_data());
    const int8_t* c = static_cast<const int8_t*>(ok.raw_data());
    int64_t off_by_one = 0;
    for (int64_t i = 0; i < gk.numel(); ++i) {
      ASSERT_LE(std::abs(int(a[i]) - int(c[i])), 1) << "K value " << i;
      off_by_one += a[i] != c[i];
    }
    EXPECT_LE(off_by_one, gk.numel() / 1000) << "K values one step apart";
    EXPECT_LT(rel_l2(host(given.k_scales), host(own.k_scales)), 1e-6);
    EXPECT_TRUE(same_bits(host(given_means.q), host(own_means.q))) << "q's block means";
    EXPECT_LT(rel_l2(host(given_means.k), host(own_means.k)), 1e-5);
  }
}

// The sparse branch on the Hopper kernel (the default there) and on the portable one agree (one
// selection: the GPU's own, so ties cannot differ), with odd lengths' partial last blocks.
TEST(CudaSparseLinearAttention, HopperAndPortableSparseBranchesAgree) {
  REQUIRE_GPU();
  if (CudaContext::get(0).info().major != 9) GTEST_SKIP() << "the Hopper kernel needs sm_90";
  using ops::cuda::BlockSparseKernel;
  for (int64_t S : {1001, 937, 128}) {
    SCOPED_TRACE(str_cat("S=", S));
    const Shape shape{2, S, 3, kD};
    const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
    const SlaConfig config{0.5, 128, 64, SlaFeatureMap::Softmax};
    const float scale = 1.f / std::sqrt(float(kD));
    testing::poison_next_outputs(shape, kGpu);
    const Tensor hopper = on_cpu_f32(ops::cuda::sparse_linear_attention_with(
        BlockSparseKernel::Hopper, q.gpu, k.gpu, v.gpu, config, scale));
    testing::poison_next_outputs(shape, kGpu);
    const Tensor portable = on_cpu_f32(ops::cuda::sparse_linear_attention_with(
        BlockSparseKernel::Portable, q.gpu, k.gpu, v.gpu, config, scale));
    EXPECT_TRUE(ops::all_finite(hopper)) << "NaN/Inf from the Hopper kernel";
    EXPECT_LT(rel_l2(hopper, portable), kBound);
  }
}

TEST(CudaSparseLinearAttention, SelectsTheLowestBlocksAmongEqualScores) {
  REQUIRE_GPU();
  // Constant keys: every smooth-k block mean is 0, so every score ties.
  const Shape shape{1, 1001, 12, kD};
  const Tensor q = testing::randn(shape).to(DType::BF16).to(kGpu);
  const Tensor k = Tensor::full(shape, 0.25f).to(DType::BF16).to(kGpu);
  SlaSelection sel;
  ops::sparse_linear_attention(q, k, q, {0.5, 128, 64}, 0.1f, {}, {}, &sel);
  const Tensor selected = sel.selected.to(Device::cpu());
  ASSERT_EQ(selected.size(3), 8);
  for (int64_t row = 0; row < 12 * 8; ++row)
    for (int n = 0; n < 8; ++n)
      ASSERT_EQ(selected.data<int32_t>()[row * 8 + n], n) << "row " << row;
}

TEST(CudaSparseLinearAttention, RefusesWhatItCannotRun) {
  REQUIRE_GPU();
  const Tensor x = testing::randn({1, 300, 2, kD}).to(DType::BF16).to(kGpu);
  const Tensor x64 = testing::randn({1, 300, 2, 64}).to(DType::BF16).to(kGpu);
  auto refusal = [](const std::function<void()>& f) { return testing::error_of(f); };
  std::string m = refusal([&] { ops::sparse_linear_attention(x64, x64, x64, {0.5}, 0.1f); });
  EXPECT_NE(m.find("needs head_dim 128, got 64"), std::string::npos) << m;
  m = refusal([&] { ops::sparse_linear_attention(x, x, x, {0.5, 128, 32}, 0.1f); });
  EXPECT_NE(m.find("BLKK 32"), std::string::npos) << m;
  const Tensor f32 = testing::randn({1, 300, 2, kD}).to(kGpu);
  m = refusal([&] { ops::sparse_linear_attention(f32, f32, f32, {0.5}, 0.1f); });
  EXPECT_NE(m.find("takes BF16 q, k, v"), std::string::npos) << m;
  const Proj p = random_proj();
  m = refusal([&] { ops::sparse_linear_attention(x, x, x, {0.5}, 0.1f, p.w, p.b); });
  EXPECT_NE(m.find("proj_l must be on q's device"), std::string::npos) << m;
}

TEST(CudaSlaAttnBackend, RunsOnThisGpuFromItsStepMetadata) {
  REQUIRE_GPU();
  const AttentionBackend& sla = AttentionBackendRegistry::builtin().get("SLA_ATTN", "test");
  const AttentionDevice device = attention_device_for(kGpu);
  const AttentionBackendStatus status = sla.status(device);
  ASSERT_TRUE(status.available()) << status.reason;  // CudaContext refuses GPUs before sm_80
  EXPECT_NE(status.reason.find("portable block-sparse kernel"), std::string::npos) << status.reason;
  EXPECT_EQ(
      select_attention_backends("SLA_ATTN", std::nullopt, device, {kD, DType::BF16}).self->name(),
      "SLA_ATTN");
  const Shape shape{1, 1001, 12, kD};
  const Input q = random_input(shape), k = random_input(shape), v = random_input(shape);
  const Proj p = random_proj();
  const auto md = sla.build_metadata({.topk_ratio = 0.5});
  const Tensor out = sla.run(q.gpu, k.gpu, v.gpu, 0.09f, md.get(),
                             {.proj_l_weight = p.w_gpu, .proj_l_bias = p.b_gpu});
  const SlaConfig config{0.5, 128, 64, SlaFeatureMap::Softmax};
  const Tensor op =
      ops::sparse_linear_attention(q.gpu, k.gpu, v.gpu, config, 0.09f, p.w_gpu, p.b_gpu);
  EXPECT_EQ(rel_l2(on_cpu_f32(out), on_cpu_f32(op)), 0.0) << "the backend runs the op, as is";
  const Tensor ref = ops::sparse_linear_attention(q.cpu, k.cpu, v.cpu, config, 0.09f, p.w, p.b);
  EXPECT_LT(rel_l2(on_cpu_f32(out), ref), kBound);
}

}  // namespace
}  // namespace fastvideo
