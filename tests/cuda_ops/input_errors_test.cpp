// The CUDA ops refuse inputs they cannot take with an Error, never a wrong result or a crash:
// mismatched shapes, parameters of the wrong length, parameters left on the CPU, an id outside an
// embedding table (the same message as the CPU twin's). Skips only where no GPU exists.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::randn;

const Device kGpu = Device::cuda(0);

Tensor bf16_on_gpu(const Shape& shape) { return randn(shape).to(DType::BF16).to(kGpu); }

TEST(CudaOpInputErrors, BinaryOpsRejectDifferentShapes) {
  REQUIRE_GPU();
  EXPECT_THROW(ops::add(bf16_on_gpu({3, 4}), bf16_on_gpu({4, 3})), Error);
}

TEST(CudaOpInputErrors, NormsRejectAWeightOfTheWrongLength) {
  REQUIRE_GPU();
  Tensor x = bf16_on_gpu({2, 3, 8});
  EXPECT_THROW(ops::rms_norm(x, 1e-6f, randn({7}).to(kGpu)), Error);
  EXPECT_THROW(ops::layer_norm(x, 1e-6f, randn({9}).to(kGpu)), Error);
}

TEST(CudaOpInputErrors, AnIdOutsideTheEmbeddingTableIsTheCpuError) {
  REQUIRE_GPU();
  Tensor table = randn({11, 8});
  const std::vector<int32_t> ids = {3, 11};
  std::string cpu_error, gpu_error;
  try {
    ops::embedding(table, ids);
  } catch (const Error& e) {
    cpu_error = e.what();
  }
  try {
    ops::embedding(table.to(kGpu), ids);
  } catch (const Error& e) {
    gpu_error = e.what();
  }
  EXPECT_FALSE(cpu_error.empty());
  EXPECT_EQ(gpu_error, cpu_error);
}

TEST(CudaOpInputErrors, ALinearWeightOnTheCpuIsAClearError) {
  REQUIRE_GPU();
  Tensor x = randn({4, 8}).to(kGpu);
  try {
    ops::linear(x, randn({3, 8}));
    FAIL() << "a CPU weight was accepted for a GPU input";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight"), std::string::npos) << e.what();
  }
}

TEST(CudaOpInputErrors, Conv3dWeightsOnTheCpuAreAnError) {
  REQUIRE_GPU();
  EXPECT_THROW(ops::conv3d(bf16_on_gpu({1, 4, 1, 5, 5}), randn({4, 4, 1, 1, 1}), Tensor()), Error);
}

TEST(CudaOpInputErrors, AttentionRejectsMismatchedHeadDimsAndABiasOfTheWrongShape) {
  REQUIRE_GPU();
  Tensor q = Tensor::empty({1, 8, 2, 64}, DType::BF16, kGpu);
  Tensor k = Tensor::empty({1, 9, 2, 32}, DType::BF16, kGpu);
  EXPECT_THROW(ops::attention(q, k, k, 1.0f), Error);
  Tensor kv = Tensor::empty({1, 9, 2, 64}, DType::BF16, kGpu);
  Tensor bad_bias = Tensor::empty({2, 8, 8}, DType::F32, kGpu);
  EXPECT_THROW(ops::attention(q, kv, kv, 1.0f, bad_bias), Error);
}

}  // namespace
}  // namespace fastvideo
