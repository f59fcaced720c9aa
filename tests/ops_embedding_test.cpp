// The embedding-lookup op against a naive row copy, and its error for ids outside the table.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace fastvideo
