// Attention ops given no batch items or no heads return an empty output of q's shape (and empty
// selections of the shapes they would have), before any kernel: a GPU grid with a zero dimension
// is a launch error, so the ops check this once, on every device (cuda_ops/empty_inputs_test.cpp
// runs the same on a GPU).
#include <gtest/gtest.h>

#include <vector>

#include "ops/sage_attention.h"
#include "ops/sliding_tile_attention.h"
#include "ops/sparse_linear_attention.h"
#include "ops/video_moba_attention.h"
#include "ops/video_sparse_attention.h"
#include "test_util.h"

namespace fastvideo {
namespace {

constexpr int64_t kTokens = 64;  // a 4 x 4 x 4 token grid
const std::vector<Shape> kEmpty = {Shape{0, kTokens, 2, 16}, Shape{1, kTokens, 0, 16}};

TEST(EmptyAttentionInputs, VideoSparseAttentionGivesEmptyOutputAndSelection) {
  const auto tiling = vsa_tiling_for({4, 4, 4});
  for (const Shape& shape : kEmpty) {
    const Tensor q = Tensor::zeros(shape, DType::F32);
    VsaSelection selection;
    const Tensor out =
        ops::video_sparse_attention(q, q, q, Tensor(), *tiling, 1, 0.25f, &selection);
    EXPECT_EQ(out.shape(), q.shape());
    EXPECT_EQ(selection.scores.shape(), (Shape{shape[0], shape[2], 1, 1}));
    EXPECT_EQ(selection.selected.shape(), (Shape{shape[0], shape[2], 1, 1}));
  }
}

TEST(EmptyAttentionInputs, SparseLinearAttentionGivesEmptyOutputAndSelection) {
  SlaConfig config;
  config.topk_ratio = 0.5;
  config.block_q = 32;
  config.block_k = 16;
  for (const Shape& shape : kEmpty) {
    const Tensor q = Tensor::zeros(shape, DType::F32);
    SlaSelection selection;
    const Tensor out =
        ops::sparse_linear_attention(q, q, q, config, 0.25f, Tensor(), Tensor(), &selection);
    EXPECT_EQ(out.shape(), q.shape());
    EXPECT_EQ(selection.scores.shape(), (Shape{shape[0], shape[2], 2, 4}));
    EXPECT_EQ(selection.selected.shape(), (Shape{shape[0], shape[2], 2, 2}));
  }
}

TEST(EmptyAttentionInputs, SlidingTileAndVmobaGiveEmptyOutputs) {
  const auto sta = sta_tiling_for({4, 4, 4});
  const auto chunks = TokenTiling::for_grid({4, 4, 4}, {2, 2, 2}, "test");
  for (const Shape& shape : kEmpty) {
    const Tensor q = Tensor::zeros(shape, DType::F32);
    const std::vector<StaWindow> windows(size_t(shape[2]), StaWindow{1, 1, 1});
    EXPECT_EQ(ops::sliding_tile_attention(q, q, q, *sta, windows, 0.25f).shape(), q.shape());
    // Block and Overall threshold rules group entries across heads: none must mean no group.
    for (const VmobaRule rule :
         {VmobaRule{VmobaSelectMode::Threshold, 1, 0.25, VmobaThresholdType::QueryHead},
          VmobaRule{VmobaSelectMode::Threshold, 1, 0.5, VmobaThresholdType::Block},
          VmobaRule{VmobaSelectMode::Threshold, 1, 0.5, VmobaThresholdType::Overall}}) {
      EXPECT_EQ(ops::video_moba_attention(q, q, q, *chunks, rule, 0.25f).shape(), q.shape());
    }
    EXPECT_EQ(ops::vmoba_gates(q, q, *chunks).shape(), (Shape{shape[0], shape[2], 8, 8}));
  }
}

TEST(EmptyAttentionInputs, SageAttentionGivesAnEmptyOutput) {
  for (const Shape& shape : kEmpty) {
    const Tensor q = Tensor::zeros({shape[0], shape[1], shape[2], 64}, DType::F32);
    const Tensor out = ops::sage_attention(q, q, q, 0.125f);
    EXPECT_EQ(out.shape(), q.shape());
    EXPECT_EQ(out.dtype(), DType::F32);
  }
  // No queries (SAGE_ATTN alone takes q and k of different lengths).
  const Tensor k = testing::randn({2, 40, 3, 64});
  const Tensor q = Tensor::zeros({2, 0, 3, 64}, DType::F32);
  const Tensor out = ops::sage_attention(q, k, k, 0.125f);
  EXPECT_EQ(out.shape(), q.shape());
  EXPECT_EQ(out.dtype(), DType::F32);
}

}  // namespace
}  // namespace fastvideo
