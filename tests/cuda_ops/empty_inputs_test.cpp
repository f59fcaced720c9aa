// The GPU side of tests/empty_attention_inputs_test.cpp: no batch items or no heads give an empty
// output of q's shape without launching a kernel (a zero grid dimension is a launch error), for
// every attention op with its own GPU kernels, at the shapes those kernels take (BF16, head dim
// 128). Found by a review of the launches (not reproduced on a GPU before the ops' checks went in).
#include <gtest/gtest.h>

#include <vector>

#include "ops/sage_attention.h"
#include "ops/sliding_tile_attention.h"
#include "ops/sparse_linear_attention.h"
#include "ops/video_moba_attention.h"
#include "ops/video_sparse_attention.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);
const std::vector<Shape> kEmpty = {Shape{0, 64, 2, 128}, Shape{1, 64, 0, 128}};

TEST(CudaEmptyAttentionInputs, EveryAttentionOpGivesAnEmptyOutput) {
  REQUIRE_GPU();
  const auto vsa = vsa_tiling_for({4, 4, 4});
  const auto sta = sta_tiling_for({4, 4, 4});
  const auto chunks = TokenTiling::for_grid({4, 4, 4}, {2, 2, 2}, "test");
  SlaConfig sla;
  sla.topk_ratio = 1;
  sla.block_q = sla.block_k = 64;
  for (const Shape& shape : kEmpty) {
    SCOPED_TRACE(shape[0] == 0 ? "no batch items" : "no heads");
    const Tensor q = Tensor::zeros(shape, DType::BF16, kGpu);
    VsaSelection vsa_selection;
    EXPECT_EQ(ops::video_sparse_attention(q, q, q, Tensor(), *vsa, 1, 0.1f, &vsa_selection).shape(),
              q.shape());
    EXPECT_EQ(vsa_selection.selected.shape(), (Shape{shape[0], shape[2], 1, 1}));
    EXPECT_EQ(ops::sparse_linear_attention(q, q, q, sla, 0.1f, Tensor(), Tensor()).shape(),
              q.shape());
    const std::vector<StaWindow> windows(size_t(shape[2]), StaWindow{1, 1, 1});
    EXPECT_EQ(ops::sliding_tile_attention(q, q, q, *sta, windows, 0.1f).shape(), q.shape());
    const VmobaRule rule{VmobaSelectMode::Threshold, 1, 0.25, VmobaThresholdType::QueryHead};
    EXPECT_EQ(ops::video_moba_attention(q, q, q, *chunks, rule, 0.1f).shape(), q.shape());
    EXPECT_EQ(ops::sage_attention(q, q, q, 0.1f).shape(), q.shape());
  }
  // No queries (SAGE_ATTN alone takes q and k of different lengths).
  const Tensor k = testing::randn({1, 130, 2, 128}).to(DType::BF16).to(kGpu);
  const Tensor q = Tensor::zeros({1, 0, 2, 128}, DType::BF16, kGpu);
  EXPECT_EQ(ops::sage_attention(q, k, k, 0.1f).shape(), q.shape());
}

}  // namespace
}  // namespace fastvideo
