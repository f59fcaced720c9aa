// SLA (ops/sparse_linear_attention.h) on the CPU against a reference written from the text
// (fastvideo.md §4.3): the block map from pooled q and smooth-k with a stable-sort top-k, the
// sparse branch as dense attention under the block mask, the linear branch unfactored
// (Σ_j φ(q)·φ(k_j) v_j / (1e-5 + Σ_j φ(q)·φ(k_j)), in double), proj_l applied per head.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <vector>

#include "attention/attention_registry.h"
#include "attention/attention_selection.h"
#include "attention/sla_attn_backend.h"
#include "ops/sparse_linear_attention.h"
#include "pipeline/sparse_attention_settings.h"
#include "ops/elementwise.h"
#include "ops/sage_attention.h"
#include "test_util.h"
#include "vsa_reference.h"

namespace fastvideo {
namespace {

using testing::error_of;
using testing::rel_l2;

using testing::contains;

std::vector<double> feature(const float* x, int64_t D, SlaFeatureMap map) {
  std::vector<double> f(static_cast<size_t>(D));
  if (map == SlaFeatureMap::Softmax) {
    double mx = -INFINITY, sum = 0;
    for (int64_t d = 0; d < D; ++d) mx = std::max(mx, double(x[d]));
    for (int64_t d = 0; d < D; ++d) sum += (f[size_t(d)] = std::exp(double(x[d]) - mx));
    for (double& e : f) e /= sum;
  } else {
    for (int64_t d = 0; d < D; ++d)
      f[size_t(d)] = map == SlaFeatureMap::Relu ? std::max(0.0, double(x[d]))
                                                : (x[d] > 0 ? x[d] + 1.0 : std::exp(double(x[d])));
  }
  return f;
}

struct Reference {
  Tensor out;
  std::vector<float> scores;      // [B, H, Nq, Nk]
  std::vector<int32_t> selected;  // [B, H, Nq, topk]
};

Reference reference_sla(const Tensor& q, const Tensor& k, const Tensor& v, const SlaConfig& c,
                        float scale, const Tensor& w, const Tensor& bias) {
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t Nq = (S + c.block_q - 1) / c.block_q, Nk = (S + c.block_k - 1) / c.block_k;
  // fastvideo.md §4.3: topk = int(topk_ratio·N_k), written here rather than taken from sla_topk.
  const auto topk = int64_t(c.topk_ratio * double(Nk));
  auto at = [&](const Tensor& t, int64_t b, int64_t s, int64_t h) {
    return t.data<float>() + ((b * S + s) * H + h) * D;
  };
  Reference ref{Tensor::empty({B, S, H, D}, DType::F32),
                std::vector<float>(size_t(B * H * Nq * Nk)),
                std::vector<int32_t>(size_t(B * H * Nq * topk))};
  for (int64_t b = 0; b < B; ++b) {
    Tensor mask = Tensor::empty({H, S, S}, DType::F32);
    for (int64_t h = 0; h < H; ++h) {
      std::vector<double> k_mean(static_cast<size_t>(D), 0.0);
      for (int64_t s = 0; s < S; ++s)
        for (int64_t d = 0; d < D; ++d) k_mean[size_t(d)] += at(k, b, s, h)[d] / double(S);
      std::vector<double> qm(size_t(Nq * D), 0.0), km(size_t(Nk * D), 0.0);
      std::vector<int64_t> qn(size_t(Nq), 0), kn(size_t(Nk), 0);
      for (int64_t s = 0; s < S; ++s) {
        ++qn[size_t(s / c.block_q)];
        ++kn[size_t(s / c.block_k)];
        for (int64_t d = 0; d < D; ++d) {
          qm[size_t(s / c.block_q * D + d)] += at(q, b, s, h)[d];
          km[size_t(s / c.block_k * D + d)] += at(k, b, s, h)[d] - k_mean[size_t(d)];
        }
      }
      for (int64_t i = 0; i < Nq; ++i) {
        std::vector<float> row(static_cast<size_t>(Nk));
        for (int64_t j = 0; j < Nk; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += qm[size_t(i * D + d)] / double(qn[size_t(i)]) * km[size_t(j * D + d)] / double(kn[size_t(j)]);
          row[size_t(j)] = float(dot);
        }
        std::copy(row.begin(), row.end(), ref.scores.begin() + ((b * H + h) * Nq + i) * Nk);
        const std::vector<int32_t> sel = testing::reference_select(row.data(), Nk, topk);
        std::copy(sel.begin(), sel.end(), ref.selected.begin() + ((b * H + h) * Nq + i) * topk);
      }
      for (int64_t s = 0; s < S; ++s) {
        const int32_t* sel = ref.selected.data() + ((b * H + h) * Nq + s / c.block_q) * topk;
        for (int64_t r = 0; r < S; ++r)
          mask.data<float>()[(h * S + s) * S + r] =
              std::find(sel, sel + topk, int32_t(r / c.block_k)) != sel + topk ? 0.f : -INFINITY;
      }
    }
    const Tensor sparse = testing::reference_attention(q.slice(0, b, b + 1), k.slice(0, b, b + 1),
                                                       v.slice(0, b, b + 1), scale, mask);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s) {
        const std::vector<double> fq = feature(at(q, b, s, h), D, c.feature_map);
        std::vector<double> num(static_cast<size_t>(D), 0.0);
        double den = 1e-5;
        for (int64_t j = 0; j < S; ++j) {
          const std::vector<double> fk = feature(at(k, b, j, h), D, c.feature_map);
          double a = 0;
          for (int64_t d = 0; d < D; ++d) a += fq[size_t(d)] * fk[size_t(d)];
          den += a;
          for (int64_t d = 0; d < D; ++d) num[size_t(d)] += a * at(v, b, j, h)[d];
        }
        for (int64_t e = 0; e < D; ++e) {
          double projected = 0;
          if (w.defined()) {
            projected = bias.data<float>()[e];
            for (int64_t d = 0; d < D; ++d) projected += w.data<float>()[e * D + d] * num[size_t(d)] / den;
          }
          at(ref.out, b, s, h)[e] = float(sparse.data<float>()[(s * H + h) * D + e] + projected);
        }
      }
  }
  return ref;
}

void expect_matches(int64_t S, const SlaConfig& c, bool proj) {
  const int64_t B = 2, H = 3, D = 16;
  const Tensor q = testing::randn({B, S, H, D}), k = testing::randn({B, S, H, D}),
               v = testing::randn({B, S, H, D});
  const Tensor w = proj ? testing::randn({D, D}, 0.3f) : Tensor();
  const Tensor b = proj ? testing::randn({D}, 0.3f) : Tensor();
  SlaSelection selection;
  const Tensor out = ops::sparse_linear_attention(q, k, v, c, 0.25f, w, b, &selection);
  const Reference ref = reference_sla(q, k, v, c, 0.25f, w, b);
  EXPECT_LT(rel_l2(out, ref.out), 1e-5) << "S " << S << " ratio " << c.topk_ratio;
  const std::vector<int32_t> got(selection.selected.data<int32_t>(),
                                 selection.selected.data<int32_t>() + selection.selected.numel());
  EXPECT_EQ(got, ref.selected);
  const Tensor scores = Tensor::from_vector(ref.scores, selection.scores.shape());
  EXPECT_LT(rel_l2(selection.scores, scores), 1e-5);
}

TEST(SparseLinearAttention, MatchesTheReferenceWithPartialBlocks) {
  for (double ratio : {0.1, 0.5, 1.0}) expect_matches(100, {ratio, 16, 8, SlaFeatureMap::Softmax}, true);
  expect_matches(300, {0.2, 128, 64, SlaFeatureMap::Softmax}, true);  // FastVideo's block sizes
  expect_matches(77, {0.4, 16, 8, SlaFeatureMap::EluPlusOne}, true);
  expect_matches(77, {0.4, 16, 8, SlaFeatureMap::Relu}, true);
  expect_matches(64, {0.5, 16, 16, SlaFeatureMap::Softmax}, false);  // whole blocks, proj_l = 0
}

TEST(SparseLinearAttention, EveryBlockWithoutProjIsDenseAttention) {
  const Tensor q = testing::randn({1, 90, 2, 16}), k = testing::randn({1, 90, 2, 16}),
               v = testing::randn({1, 90, 2, 16});
  const Tensor out = ops::sparse_linear_attention(q, k, v, {1.0, 16, 8}, 0.2f);
  EXPECT_LT(rel_l2(out, testing::reference_attention(q, k, v, 0.2f)), 1e-5);
}

TEST(SparseLinearAttention, RefusesWhatItCannotRun) {
  const Tensor x = testing::randn({1, 40, 2, 16});
  std::string m = error_of([&] { ops::sparse_linear_attention(x, x, x, {0.0, 16, 8}, 0.2f); });
  EXPECT_TRUE(contains(m, "SLA topk_ratio 0 is outside (0, 1]")) << m;
  m = error_of([&] { ops::sparse_linear_attention(x, x, x, {0.1, 16, 8}, 0.2f); });
  EXPECT_TRUE(contains(m, "keeps no key block of 5")) << m;
  m = error_of([&] {
    ops::sparse_linear_attention(x, x, x, {0.5, 16, 8}, 0.2f, testing::randn({16, 8}),
                                 testing::randn({16}));
  });
  EXPECT_TRUE(contains(m, "proj_l.weight")) << m;
  const Tensor text = testing::randn({1, 512, 2, 16});
  m = error_of([&] { ops::sparse_linear_attention(x, text, text, {0.5, 16, 8}, 0.2f); });
  EXPECT_TRUE(contains(m, "self-attention only")) << m;
}

TEST(SlaAttnBackend, RunsOnTheCpuFromItsStepMetadataAndOnGpusFromSm80) {
  const AttentionBackend& sla = AttentionBackendRegistry::builtin().get("SLA_ATTN", "test");
  EXPECT_TRUE(sla.status(AttentionDevice::cpu()).available());
  const AttentionDevice t4 = AttentionDevice::gpu(0, "Tesla T4", ComputeCapability{7, 5});
  const AttentionLayerShape wan_gpu{128, DType::BF16};
#ifdef FASTVIDEO_HAVE_CUDA
  for (const AttentionDevice& gpu :
       {AttentionDevice::gpu(0, "NVIDIA H200", ComputeCapability{9, 0}),
        AttentionDevice::gpu(0, "NVIDIA A100-SXM4-80GB", ComputeCapability{8, 0}),
        AttentionDevice::gpu(0, "NVIDIA L40S", ComputeCapability{8, 9})}) {
    const AttentionBackendStatus status = sla.status(gpu);
    EXPECT_TRUE(status.available()) << gpu.describe() << ": " << status.reason;
    EXPECT_TRUE(contains(status.reason, "portable block-sparse kernel")) << status.reason;
    EXPECT_EQ(select_attention_backends("SLA_ATTN", std::nullopt, gpu, wan_gpu).self->name(),
              "SLA_ATTN");
    EXPECT_FALSE(sla.chosen_automatically_on(gpu));
  }
  const AttentionBackendStatus old = sla.status(t4);
  EXPECT_EQ(old.kind, AttentionBackendStatus::Kind::UnsupportedHardware);
  EXPECT_TRUE(contains(old.reason, "compute capability 7.5 (sm_75)")) << old.reason;
  const std::string refused =
      error_of([&] { select_attention_backends("SLA_ATTN", std::nullopt, t4, wan_gpu); });
  EXPECT_TRUE(contains(refused, "compute capability 8.0 or newer")) << refused;
  EXPECT_TRUE(contains(refused, "sm_75")) << refused;
#else
  const AttentionBackendStatus gpu = sla.status(t4);
  EXPECT_EQ(gpu.kind, AttentionBackendStatus::Kind::NotInThisVersion);
  EXPECT_TRUE(contains(gpu.reason, "no CUDA backend")) << gpu.reason;
#endif
  EXPECT_TRUE(sla.takes("proj_l"));
  const Tensor q = testing::randn({1, 300, 2, 64}), k = testing::randn({1, 300, 2, 64}),
               v = testing::randn({1, 300, 2, 64});
  const Tensor w = testing::randn({64, 64}, 0.1f), b = testing::randn({64}, 0.1f);
  const auto md = sla.build_metadata({.topk_ratio = 0.5});
  const Tensor out = sla.run(q, k, v, 0.125f, md.get(), {.proj_l_weight = w, .proj_l_bias = b});
  const Tensor expected =
      ops::sparse_linear_attention(q, k, v, {0.5, 128, 64, SlaFeatureMap::Softmax}, 0.125f, w, b);
  EXPECT_EQ(rel_l2(out, expected), 0.0);
  std::string m = error_of([&] { sla.run(q, k, v, 0.125f); });
  EXPECT_TRUE(contains(m, "SLA_ATTN needs the step's metadata")) << m;
  m = error_of([&] { sla.build_metadata({.topk_ratio = 1.5}); });
  EXPECT_TRUE(contains(m, "topk_ratio 1.5 is outside (0, 1]")) << m;
  m = error_of([&] { torch_sdpa_backend().run(q, k, v, 0.125f, nullptr, {.proj_l_weight = w}); });
  EXPECT_TRUE(contains(m, "TORCH_SDPA takes no proj_l")) << m;
}

// ---------------------------------------------------------------------------------------------
// SageSLA: SLA with SAGE_ATTN's quantized sparse branch (fastvideo.md §4.4)

Tensor dit_like(Shape shape) { return testing::randn_with_channel_offsets(std::move(shape)); }

// Against the exact SLA reference with SageSLA's blocks (64-row query blocks, 128-key blocks):
// the selection equal, the output within SAGE_ATTN's accuracy bound, with and without proj_l.
TEST(SageSlaAttention, MatchesTheExactReferenceWithinSageAccuracy) {
  const int64_t B = 2, H = 3, D = 128;
  // 333 tokens: 3 key blocks (the last of 77 keys), 6 query blocks; 520: 5 key blocks, 9 query.
  for (const auto& [S, ratio] : {std::pair<int64_t, double>{333, 0.5}, {520, 0.4}}) {
    SCOPED_TRACE(str_cat("S ", S, " ratio ", ratio));
    const Tensor q = dit_like({B, S, H, D}), k = dit_like({B, S, H, D}), v = dit_like({B, S, H, D});
    const Tensor w = testing::randn({D, D}, 0.05f), b = testing::randn({D}, 0.05f);
    const SlaConfig c = sage_sla_config(ratio);
    const float scale = 1.f / std::sqrt(float(D));
    SlaSelection selection;
    const Tensor out = ops::sparse_linear_attention(q, k, v, c, scale, w, b, &selection);
    const Reference ref = reference_sla(q, k, v, c, scale, w, b);
    const std::vector<int32_t> got(selection.selected.data<int32_t>(),
                                   selection.selected.data<int32_t>() + selection.selected.numel());
    EXPECT_EQ(got, ref.selected);
    EXPECT_GE(testing::cosine(out, ref.out), 0.999);
    EXPECT_LE(rel_l2(out, ref.out), 3e-2);
    EXPECT_TRUE(ops::all_finite(out));
  }
}

// Every block and no proj_l: SageSLA's sparse branch is SAGE_ATTN itself, value for value.
TEST(SageSlaAttention, EveryBlockWithoutProjIsSageAttention) {
  const Tensor q = dit_like({1, 300, 2, 64}), k = dit_like({1, 300, 2, 64}),
               v = dit_like({1, 300, 2, 64});
  const Tensor out = ops::sparse_linear_attention(q, k, v, sage_sla_config(1.0), 0.125f);
  EXPECT_EQ(rel_l2(out, ops::sage_attention(q, k, v, 0.125f)), 0.0);
}

TEST(SageSlaAttention, RefusesOtherBlocks) {
  const Tensor x = testing::randn({1, 300, 2, 64});
  SlaConfig c = sage_sla_config(0.5);
  c.block_q = 128;
  const std::string m = error_of([&] { ops::sparse_linear_attention(x, x, x, c, 0.125f); });
  EXPECT_TRUE(contains(m, "its blocks are SAGE_ATTN's, 64 query rows and 128 keys")) << m;
  EXPECT_TRUE(contains(m, "BLKQ 128")) << m;
}

TEST(SageSlaAttnBackend, RunsOnTheCpuAndHopperWithFastVideosDefaults) {
  const AttentionBackend& sage_sla =
      AttentionBackendRegistry::builtin().get("SAGE_SLA_ATTN", "test");
  EXPECT_TRUE(sage_sla.status(AttentionDevice::cpu()).available());
  const AttentionBackendStatus h200 =
      sage_sla.status(AttentionDevice::gpu(0, "NVIDIA H200", ComputeCapability{9, 0}));
  const AttentionBackendStatus a100 =
      sage_sla.status(AttentionDevice::gpu(0, "NVIDIA A100", ComputeCapability{8, 0}));
  const AttentionBackendStatus b200 =
      sage_sla.status(AttentionDevice::gpu(0, "NVIDIA B200", ComputeCapability{10, 0}));
#ifdef FASTVIDEO_HAVE_CUDA
  EXPECT_TRUE(h200.available()) << h200.reason;
  EXPECT_TRUE(contains(h200.reason, "SAGE_ATTN's Hopper kernel")) << h200.reason;
  EXPECT_FALSE(a100.available());
  EXPECT_TRUE(contains(a100.reason, "sm_80")) << a100.reason;
  EXPECT_EQ(b200.kind, AttentionBackendStatus::Kind::NotInThisVersion);
  EXPECT_TRUE(contains(b200.reason, "NVIDIA B200")) << b200.reason;
#else
  EXPECT_EQ(h200.kind, AttentionBackendStatus::Kind::NotInThisVersion);
  EXPECT_TRUE(contains(h200.reason, "no CUDA backend")) << h200.reason;
#endif
  EXPECT_FALSE(sage_sla.chosen_automatically_on(AttentionDevice::cpu()));
  EXPECT_TRUE(sage_sla.takes("proj_l"));
  // FastVideo's SageSLA default topk_ratio is 0.5, SLA's 0.1; an explicit value applies to both.
  const AttentionBackend& sla = AttentionBackendRegistry::builtin().get("SLA_ATTN", "test");
  EXPECT_EQ(resolve_sla_topk_ratio(std::nullopt, sage_sla, "test"), 0.5);
  EXPECT_EQ(resolve_sla_topk_ratio(std::nullopt, sla, "test"), 0.1);
  EXPECT_EQ(resolve_sla_topk_ratio(0.3, sage_sla, "test"), 0.3);
  const Tensor q = dit_like({1, 300, 2, 64}), k = dit_like({1, 300, 2, 64}),
               v = dit_like({1, 300, 2, 64});
  const Tensor w = testing::randn({64, 64}, 0.1f), b = testing::randn({64}, 0.1f);
  const auto md = sage_sla.build_metadata({.topk_ratio = 0.5});
  const Tensor out =
      sage_sla.run(q, k, v, 0.125f, md.get(), {.proj_l_weight = w, .proj_l_bias = b});
  EXPECT_EQ(rel_l2(out, ops::sparse_linear_attention(q, k, v, sage_sla_config(0.5), 0.125f, w, b)),
            0.0);
  const std::string m = error_of([&] { sage_sla.run(q, k, v, 0.125f); });
  EXPECT_TRUE(contains(m, "SAGE_SLA_ATTN needs the step's metadata")) << m;
}

}  // namespace
}  // namespace fastvideo
