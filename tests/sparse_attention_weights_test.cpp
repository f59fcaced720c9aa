// The per-block weights sparse backends add to the transformer: VSA's gate (fastvideo.md §3.3)
// and SLA's proj_l (§4.3). Where a checkpoint keeps them (all blocks or none), their shapes
// checked, VSA's two names giving the same model, and an absent weight behaving exactly as
// FastVideo's zero-initialised one.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "attention/attention_registry.h"
#include "io/checkpoint.h"
#include "models/wan/dit/wan_transformer.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

using testing::error_of;

using testing::contains;

std::set<std::string> gate_names(int blocks, const std::string& prefix) {
  std::set<std::string> names = {"patch_embedding.weight"};
  for (int i = 0; i < blocks; ++i) names.insert(str_cat("blocks.", i, ".", prefix, ".weight"));
  return names;
}

TEST(VsaGateLayout, IsFoundUnderEitherNameInEveryBlockOrNone) {
  EXPECT_EQ(find_vsa_gate_layout(gate_names(3, "attn1.to_gate_compress"), 3),
            VsaGateLayout::InAttention);
  EXPECT_EQ(find_vsa_gate_layout(gate_names(3, "to_gate_compress"), 3), VsaGateLayout::InBlock);
  EXPECT_EQ(find_vsa_gate_layout({"patch_embedding.weight"}, 3), VsaGateLayout::Absent);

  std::set<std::string> partial = gate_names(3, "to_gate_compress");
  partial.erase("blocks.1.to_gate_compress.weight");
  std::string m = error_of([&] { find_vsa_gate_layout(partial, 3); });
  EXPECT_TRUE(contains(m, "blocks.1 has no to_gate_compress.weight")) << m;

  std::set<std::string> late = gate_names(3, "to_gate_compress");
  late.erase("blocks.0.to_gate_compress.weight");
  m = error_of([&] { find_vsa_gate_layout(late, 3); });
  EXPECT_TRUE(contains(m, "blocks.1 has a VSA gate")) << m;

  std::set<std::string> both = gate_names(3, "to_gate_compress");
  both.insert("blocks.0.attn1.to_gate_compress.weight");
  m = error_of([&] { find_vsa_gate_layout(both, 3); });
  EXPECT_TRUE(contains(m, "has both")) << m;
}

class VsaGateInTransformer : public ::testing::Test {
 protected:
  static CheckpointFolder checkpoint() { return CheckpointFolder::open(testing::tiny_model_dir()); }
  static WanTransformerConfig config() {
    return WanTransformerConfig::from_json(checkpoint().config("transformer"));
  }
  static Weights plain() {
    return load_component(checkpoint().path("transformer"), wan_transformer_specs(config()));
  }
  // The tiny model's weights plus, per block, `gate_w` and `gate_b` under `layout`'s name.
  static Weights with_gates(VsaGateLayout layout, const Tensor& gate_w, const Tensor& gate_b) {
    Weights w = plain();
    for (int i = 0; i < config().num_layers; ++i) {
      const std::string g = str_cat("blocks.", i, ".", vsa_gate_prefix(layout));
      w.insert(g + ".weight", gate_w);
      w.insert(g + ".bias", gate_b);
    }
    return w;
  }
  // The tiny model's weights plus, per block, SLA's proj_l `w`, `b`.
  static Weights with_proj_l(const Tensor& w, const Tensor& b) {
    Weights weights = plain();
    for (int i = 0; i < config().num_layers; ++i) {
      const std::string p = str_cat("blocks.", i, ".", kSlaProjLPrefix);
      weights.insert(p + ".weight", w);
      weights.insert(p + ".bias", b);
    }
    return weights;
  }
  // One forward over a 5×5×7 token grid (partial tiles on every axis) at VSA sparsity 0.5 or
  // SLA topk_ratio 0.5.
  Tensor run(const WanTransformer& model) const {
    const double t[] = {700.0};
    const auto md = model.self_attention().build_metadata(
        {.step = 0, .timestep = 700, .grid = {5, 5, 7}, .sparsity = 0.5, .topk_ratio = 0.5});
    return model.forward(latents_, t, model.prepare_text(context_), md.get());
  }
  const AttentionBackend& vsa =
      AttentionBackendRegistry::builtin().get("VIDEO_SPARSE_ATTN", "test");
  const AttentionBackend& sla = AttentionBackendRegistry::builtin().get("SLA_ATTN", "test");
  const int64_t D = config().inner_dim();
  const Tensor latents_ = testing::randn({1, 16, 5, 10, 14});
  const Tensor context_ = testing::randn({1, 512, config().text_dim}, 0.3f);
};

TEST_F(VsaGateInTransformer, EitherNameGivesTheSameModel) {
  const Tensor w = testing::randn({D, D}, 0.05f), b = testing::randn({D}, 0.05f);
  const WanTransformer attn1(config(), with_gates(VsaGateLayout::InAttention, w, b), vsa);
  const WanTransformer block(config(), with_gates(VsaGateLayout::InBlock, w, b), vsa);
  EXPECT_EQ(testing::rel_l2(run(attn1), run(block)), 0.0);
}

TEST_F(VsaGateInTransformer, AnAbsentGateIsAZeroGateAndAGateChangesTheOutput) {
  const WanTransformer absent(config(), plain(), vsa);
  const WanTransformer zero(config(),
                            with_gates(VsaGateLayout::InBlock, Tensor::zeros({D, D}, DType::F32),
                                       Tensor::zeros({D}, DType::F32)),
                            vsa);
  const Tensor out = run(absent);
  EXPECT_EQ(testing::rel_l2(run(zero), out), 0.0);
  const WanTransformer gated(config(),
                             with_gates(VsaGateLayout::InBlock, testing::randn({D, D}, 0.05f),
                                        testing::randn({D}, 0.5f)),
                             vsa);
  EXPECT_GT(testing::rel_l2(run(gated), out), 1e-4);
}

TEST_F(VsaGateInTransformer, AGateOfTheWrongShapeIsRefusedNamingIt) {
  const Weights bad = with_gates(VsaGateLayout::InAttention, testing::randn({D, D + 8}),
                                 testing::randn({D}));
  const std::string m = error_of([&] { WanTransformer(config(), bad, vsa); });
  EXPECT_TRUE(contains(m, "blocks.0.attn1.to_gate_compress.weight")) << m;
  EXPECT_TRUE(contains(m, str_cat("[", D, ",", D, "]"))) << m;
}

TEST(SlaProjL, IsFoundInEveryBlockOrNone) {
  std::set<std::string> names;
  for (int i = 0; i < 3; ++i) names.insert(str_cat("blocks.", i, ".", kSlaProjLPrefix, ".weight"));
  EXPECT_TRUE(find_sla_proj_l(names, 3));
  EXPECT_FALSE(find_sla_proj_l({"patch_embedding.weight"}, 3));
  names.erase(str_cat("blocks.2.", kSlaProjLPrefix, ".weight"));
  const std::string m = error_of([&] { find_sla_proj_l(names, 3); });
  EXPECT_TRUE(contains(m, "blocks.2 has no attn1.attn_impl.proj_l.weight")) << m;
}

TEST_F(VsaGateInTransformer, SlaProjLAbsentIsZeroAndARealOneChangesTheOutput) {
  const int64_t hd = config().attention_head_dim;
  const WanTransformer absent(config(), plain(), sla);
  const WanTransformer zero(
      config(), with_proj_l(Tensor::zeros({hd, hd}, DType::F32), Tensor::zeros({hd}, DType::F32)),
      sla);
  const Tensor out = run(absent);
  EXPECT_EQ(testing::rel_l2(run(zero), out), 0.0);
  const WanTransformer real(
      config(), with_proj_l(testing::randn({hd, hd}, 0.1f), testing::randn({hd}, 0.1f)), sla);
  EXPECT_GT(testing::rel_l2(run(real), out), 1e-4);
  const std::string m = error_of([&] {
    WanTransformer(config(), with_proj_l(testing::randn({hd, 8}), testing::randn({hd})), sla);
  });
  EXPECT_TRUE(contains(m, "blocks.0.attn1.attn_impl.proj_l.weight")) << m;
}

}  // namespace
}  // namespace fastvideo
