// ops::cuda::conv3d / conv2d (cuDNN, plus the direct fallback kernel) against their CPU twins on
// fresh random inputs: causal and symmetric padding, pointwise and time-only kernels, odd sizes,
// batches, strided inputs and mixed dtypes. BF16 inputs are rounded before the CPU sees them, so
// only the device's rounding of the output and its accumulation order differ.
#include "ops/conv.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>

#include "ops/cuda/conv_kernels.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

const Device kGpu = Device::cuda(0);
constexpr double kBf16Bound = 1e-2;
constexpr double kF32Bound = 1e-5;

double bound_for(DType d) { return d == DType::BF16 ? kBf16Bound : kF32Bound; }

// What the device sees of an f32 tensor once stored as `d`, back in f32 on the CPU.
Tensor rounded(const Tensor& t, DType d) { return t.to(d).to(DType::F32); }
Tensor on_gpu(const Tensor& t, DType d) { return t.to(d).to(kGpu); }
Tensor to_host(const Tensor& t) { return t.to(Device::cpu()).to(DType::F32); }

struct Conv3dCase {
  Shape x, w;
  ops::Conv3dPadding pad;
  bool bias = true;
};

void expect_conv3d_matches_cpu(const Conv3dCase& c, DType dtype) {
  const Tensor x = randn(c.x),
               w = randn(c.w, float(1.0 / std::sqrt(double(c.w[1] * c.w[2] * c.w[3] * c.w[4]))));
  const Tensor b = c.bias ? randn({c.w[0]}, 0.5f) : Tensor();
  const Tensor want = ops::conv3d(rounded(x, dtype), rounded(w, dtype),
                                  c.bias ? rounded(b, dtype) : Tensor(), c.pad);
  const Tensor got =
      ops::conv3d(on_gpu(x, dtype), on_gpu(w, dtype), c.bias ? on_gpu(b, dtype) : Tensor(), c.pad);
  EXPECT_EQ(got.dtype(), dtype);
  EXPECT_EQ(got.device(), kGpu);
  ASSERT_EQ(got.shape(), want.shape());
  EXPECT_LE(rel_l2(to_host(got), want), bound_for(dtype))
      << dtype_name(dtype) << " x " << shape_str(c.x) << " w " << shape_str(c.w);
}

class CudaConv3d : public ::testing::TestWithParam<DType> {};

TEST_P(CudaConv3d, CausalThreeByThreeByThreeMatchesTheCpu) {
  REQUIRE_GPU();
  expect_conv3d_matches_cpu({{1, 16, 4, 12, 20}, {24, 16, 3, 3, 3}, {2, 0, 1, 1}}, GetParam());
}

TEST_P(CudaConv3d, SymmetricPaddingMatchesTheCpu) {
  REQUIRE_GPU();
  expect_conv3d_matches_cpu({{1, 8, 5, 10, 10}, {8, 8, 3, 3, 3}, {1, 1, 1, 1}}, GetParam());
}

TEST_P(CudaConv3d, PointwiseMatchesTheCpu) {
  REQUIRE_GPU();
  expect_conv3d_matches_cpu({{1, 32, 3, 8, 12}, {48, 32, 1, 1, 1}, {}}, GetParam());
}

TEST_P(CudaConv3d, TimeOnlyKernelMatchesTheCpu) {
  REQUIRE_GPU();
  expect_conv3d_matches_cpu({{1, 16, 3, 6, 10}, {32, 16, 3, 1, 1}, {2, 0, 0, 0}}, GetParam());
}

TEST_P(CudaConv3d, OddSizesMatchTheCpu) {
  REQUIRE_GPU();
  expect_conv3d_matches_cpu({{1, 5, 3, 9, 11}, {7, 5, 3, 3, 3}, {2, 0, 1, 1}}, GetParam());
  expect_conv3d_matches_cpu({{1, 5, 3, 9, 11}, {7, 5, 3, 3, 3}, {0, 2, 1, 1}}, GetParam());
  expect_conv3d_matches_cpu({{1, 5, 3, 9, 11}, {7, 5, 1, 3, 3}, {0, 0, 1, 1}, false}, GetParam());
}

TEST_P(CudaConv3d, BatchOfTwoMatchesTheCpu) {
  REQUIRE_GPU();
  expect_conv3d_matches_cpu({{2, 6, 3, 7, 9}, {10, 6, 3, 3, 3}, {2, 0, 1, 1}}, GetParam());
}

TEST_P(CudaConv3d, StridedInputMatchesTheCpu) {
  REQUIRE_GPU();
  const DType dtype = GetParam();
  const Tensor x = randn({1, 8, 6, 9, 10}), w = randn({12, 8, 3, 3, 3}, 0.1f);
  const Tensor b = randn({12});
  // One time step of a longer stream, as the decoder slices its latents.
  const Tensor want = ops::conv3d(rounded(x, dtype).slice(2, 2, 3).contiguous(), rounded(w, dtype),
                                  rounded(b, dtype), {2, 0, 1, 1});
  const Tensor got = ops::conv3d(on_gpu(x, dtype).slice(2, 2, 3), on_gpu(w, dtype),
                                 on_gpu(b, dtype), {2, 0, 1, 1});
  EXPECT_LE(rel_l2(to_host(got), want), bound_for(dtype));
}

TEST_P(CudaConv3d, RepeatedCallsWithTheCachedPlanMatchTheCpu) {
  REQUIRE_GPU();
  for (int i = 0; i < 3; ++i)
    expect_conv3d_matches_cpu({{1, 12, 2, 9, 13}, {12, 12, 3, 3, 3}, {2, 0, 1, 1}}, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaConv3d, ::testing::Values(DType::BF16, DType::F32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(CudaConv3dMixed, Bf16InputWithF32WeightsGivesBf16) {
  REQUIRE_GPU();
  const Tensor x = randn({1, 8, 3, 7, 9}), w = randn({6, 8, 3, 3, 3}, 0.1f), b = randn({6});
  const Tensor want =
      ops::conv3d(rounded(x, DType::BF16), rounded(w, DType::BF16), b, {2, 0, 1, 1});
  const Tensor got = ops::conv3d(on_gpu(x, DType::BF16), on_gpu(w, DType::F32),
                                 on_gpu(b, DType::F32), {2, 0, 1, 1});
  EXPECT_EQ(got.dtype(), DType::BF16);
  EXPECT_LE(rel_l2(to_host(got), want), kBf16Bound);
}

class CudaConv2d : public ::testing::TestWithParam<DType> {};

TEST_P(CudaConv2d, ThreeByThreePadOneMatchesTheCpu) {
  REQUIRE_GPU();
  const DType dtype = GetParam();
  for (const Shape& xs : {Shape{1, 16, 12, 20}, Shape{2, 5, 9, 11}}) {
    const Tensor x = randn(xs), w = randn({7, xs[1], 3, 3}, 0.2f), b = randn({7});
    const Tensor want = ops::conv2d(rounded(x, dtype), rounded(w, dtype), rounded(b, dtype), 1, 1);
    const Tensor got = ops::conv2d(on_gpu(x, dtype), on_gpu(w, dtype), on_gpu(b, dtype), 1, 1);
    EXPECT_EQ(got.dtype(), dtype);
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_LE(rel_l2(to_host(got), want), bound_for(dtype)) << shape_str(xs);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaConv2d, ::testing::Values(DType::BF16, DType::F32),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

// The fallback for configurations cuDNN declines, checked directly (cuDNN accepts all the above).
TEST(CudaConvDirect, AsymmetricPaddingMatchesTheCpu) {
  REQUIRE_GPU();
  for (DType dtype : {DType::BF16, DType::F32}) {
    const Tensor x = randn({2, 5, 3, 9, 11}), w = randn({7, 5, 3, 3, 3}, 0.15f), b = randn({7});
    const Tensor want = ops::conv3d(rounded(x, dtype), rounded(w, dtype), b, {2, 0, 1, 1});
    const Tensor got = ops::cuda::conv_detail::conv3d_direct(
        on_gpu(x, dtype), on_gpu(w, dtype), on_gpu(b, DType::F32), {2, 0, 1, 1, 1, 1});
    EXPECT_LE(rel_l2(to_host(got), want), bound_for(dtype)) << dtype_name(dtype);
  }
}

TEST(CudaConvBias, OddPlanesAndBf16BiasMatchTheCpu) {
  REQUIRE_GPU();
  // 3·5·7 = 105 elements per channel plane: the unvectorised path.
  const Tensor x = randn({1, 4, 3, 5, 7}), w = randn({6, 4, 1, 1, 1}, 0.5f), b = randn({6});
  const Tensor want =
      ops::conv3d(rounded(x, DType::BF16), rounded(w, DType::BF16), rounded(b, DType::BF16));
  const Tensor got =
      ops::conv3d(on_gpu(x, DType::BF16), on_gpu(w, DType::BF16), on_gpu(b, DType::BF16));
  EXPECT_LE(rel_l2(to_host(got), want), kBf16Bound);
}

}  // namespace
}  // namespace fastvideo
