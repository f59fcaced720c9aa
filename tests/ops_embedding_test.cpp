// The embedding-lookup op and the relative-position bias against naive loops, and their errors
// for ids and buckets outside the table.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "ops/embedding.h"
#include "test_util.h"

namespace fastvideo {
namespace {

TEST(OpsCpuEmbedding, GathersTheRowOfEachIdIncludingRepeats) {
  const int V = 37, D = 19;
  Tensor table = testing::randn({V, D});
  std::mt19937 rng(std::random_device{}());
  std::vector<int32_t> ids(53);
  for (auto& id : ids) id = int32_t(rng() % V);
  ids[0] = 0;
  ids[1] = V - 1;
  ids[2] = ids[3];
  Tensor out = ops::embedding(table, ids);
  ASSERT_EQ(out.shape(), (Shape{53, D}));
  auto pt = table.f32(), po = out.f32();
  for (size_t i = 0; i < ids.size(); ++i)
    for (int d = 0; d < D; ++d)
      ASSERT_EQ(po[i * D + d], pt[ids[i] * D + d]) << "row " << i << " (id " << ids[i] << ")";
}

TEST(OpsCpuEmbedding, EmptyIdsGiveZeroRows) {
  Tensor out = ops::embedding(testing::randn({4, 3}), {});
  EXPECT_EQ(out.shape(), (Shape{0, 3}));
}

TEST(OpsCpuEmbedding, IdOutsideTheTableNamesIdAndSize) {
  Tensor table = testing::randn({10, 4});
  for (int32_t bad : {10, -1, 1000}) {
    std::vector<int32_t> ids = {1, 2, bad};
    try {
      ops::embedding(table, ids);
      FAIL() << "id " << bad << " accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("id " + std::to_string(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("10"), std::string::npos) << msg;
    }
  }
}

Tensor offset_buckets(std::vector<int32_t> values) {
  Tensor t = Tensor::empty({int64_t(values.size())}, DType::I32);
  std::copy(values.begin(), values.end(), t.data<int32_t>());
  return t;
}

TEST(OpsCpuRelativePositionBias, ReadsTheBucketOfEachOffsetPerHead) {
  const int64_t q = 3, k = 4, H = 2;
  Tensor table = testing::randn({6, H});
  // Offsets −2..3 at 0..5.
  const std::vector<int32_t> b = {5, 0, 2, 2, 1, 4};
  Tensor bias = ops::relative_position_bias(table, offset_buckets(b), q, k);
  ASSERT_EQ(bias.shape(), (Shape{H, q, k}));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < q; ++i)
      for (int64_t j = 0; j < k; ++j)
        ASSERT_EQ(bias.f32()[(h * q + i) * k + j], table.f32()[b[j - i + q - 1] * H + h])
            << "h " << h << " i " << i << " j " << j;
}

TEST(OpsCpuRelativePositionBias, RefusesABucketOutsideTheTableOrTheWrongCount) {
  Tensor table = testing::randn({6, 2});
  try {
    ops::relative_position_bias(table, offset_buckets({0, 6, 1}), 2, 2);
    FAIL() << "bucket 6 of a 6-row table accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("bucket 6 of offset 0"), std::string::npos) << msg;
  }
  try {
    ops::relative_position_bias(table, offset_buckets({0, 1}), 2, 2);
    FAIL() << "2 buckets for 3 offsets accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("I32 [3]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fastvideo
