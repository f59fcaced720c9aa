// Sharded weights' storage (runtime/sharded_layers.h, issue 15) on the CPU, its ranks as threads
// of a local group: a layer of mixed dtypes cut among 1, 2 and 3 ranks comes back whole, in the
// layout's dtypes, on every rank; each rank keeps only its piece; the byte-range packing it relies
// on; and the refusals.
#include "runtime/sharded_layers.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <mutex>

#include "test_util.h"

namespace fastvideo {
namespace {

using testing::contains;
using testing::error_of;
using testing::randn;

// Three members of different sizes and dtypes, none a multiple of the alignment.
LayerLayout mixed_layout() {
  return LayerLayout({{{6, 7}, DType::F32}, {{33}, DType::BF16}, {{5, 3, 2}, DType::BF16}});
}

std::vector<Tensor> mixed_layer() {
  return {randn({6, 7}), randn({33}).to(DType::BF16), randn({5, 3, 2})};
}

TEST(LayerLayout, PacksEachMemberInItsDtypeAtAnAlignedOffset) {
  const LayerLayout layout = mixed_layout();
  EXPECT_EQ(layout.bytes(), 256u + 256u + 256u);
  const std::vector<Tensor> layer = mixed_layer();
  Tensor string = Tensor::zeros({int64_t(layout.bytes())}, DType::U8);
  layout.pack(layer, static_cast<char*>(string.raw_data()), "layer 0");
  const std::vector<Tensor> views = layout.views(string);
  ASSERT_EQ(views.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(views[k].dtype(), layout.members()[k].dtype);
    EXPECT_EQ(testing::rel_l2(views[k].to(DType::F32),
                              layer[k].to(layout.members()[k].dtype).to(DType::F32)),
              0.0)
        << "member " << k;
  }
  // A byte range: the second member only, the rest of the range (its alignment gap) zero.
  Tensor part = Tensor::empty({256}, DType::U8);
  std::memset(part.raw_data(), 1, 256);
  layout.pack(layer, static_cast<char*>(part.raw_data()), 256, 512, "layer 0");
  for (int64_t b = 33 * 2; b < 256; ++b)
    ASSERT_EQ(part.data<uint8_t>()[b], 0) << "byte " << b << " of the gap after member 1";
  // And in a whole string written over ones: every gap zero.
  std::memset(string.raw_data(), 1, layout.bytes());
  layout.pack(layer, static_cast<char*>(string.raw_data()), "layer 0");
  for (const auto& [from, to] :
       {std::pair<int64_t, int64_t>{6 * 7 * 4, 256}, {256 + 66, 512}, {512 + 60, 768}})
    for (int64_t b = from; b < to; ++b) ASSERT_EQ(string.data<uint8_t>()[b], 0) << "byte " << b;
  Tensor whole = Tensor::zeros({int64_t(layout.bytes())}, DType::U8);
  std::memcpy(static_cast<char*>(whole.raw_data()) + 256, part.raw_data(), 256);
  EXPECT_EQ(testing::rel_l2(layout.views(whole)[1].to(DType::F32), views[1].to(DType::F32)), 0.0);
  EXPECT_TRUE(contains(error_of([&] {
                         layout.pack(layer, static_cast<char*>(part.raw_data()), 100, 300,
                                     "layer 0");
                       }),
                       "do not start and end on member elements"));
  EXPECT_TRUE(contains(error_of([&] {
                         layout.check({layer[0], layer[2], layer[1]}, "layer 4");
                       }),
                       "layer 4 tensor 1 is"));
  // A NaN in a member (a damaged checkpoint's mapped block) is named, with its element.
  std::vector<Tensor> damaged = mixed_layer();
  damaged[2].data<float>()[17] = std::nanf("");
  const std::string nan =
      error_of([&] { layout.pack(damaged, static_cast<char*>(string.raw_data()), "layer 4"); });
  EXPECT_TRUE(contains(nan, "layer 4, tensor 2 holds") &&
              contains(nan, "holds NaN or Inf (element 17 of 30)"))
      << nan;
  // Named members are named; check_finite finds the same without packing (tensors kept to be
  // streamed later are checked when they are set, not at the first step).
  const LayerLayout named({{{6, 7}, DType::F32, "norm.weight"},
                           {{33}, DType::BF16, "proj.bias"},
                           {{5, 3, 2}, DType::BF16, "proj.weight"}});
  EXPECT_TRUE(contains(
      error_of([&] { named.pack(damaged, static_cast<char*>(string.raw_data()), "layer 4"); }),
      "layer 4, proj.weight holds NaN or Inf (element 17 of 30)"));
  EXPECT_TRUE(contains(error_of([&] { named.check_finite(damaged, "layer 4"); }),
                       "layer 4, proj.weight holds NaN or Inf (element 17 of 30)"));
  EXPECT_NO_THROW(named.check_finite(mixed_layer(), "layer 4"));
}

TEST(ShardedLayers, EveryRankGathersTheWholeLayerFromThePieces) {
  const std::vector<std::vector<Tensor>> layers = {mixed_layer(), mixed_layer()};
  const LayerLayout layout = mixed_layout();
  for (const int P : {1, 2, 3}) {
    std::vector<std::unique_ptr<ShardedLayers>> shards;
    for (int r = 0; r < P; ++r) {
      shards.push_back(std::make_unique<ShardedLayers>(layout, 2, r, P, Device::cpu()));
      for (int i = 0; i < 2; ++i) shards.back()->set_layer(i, layers[size_t(i)]);
      // 768 bytes in pieces of 256-byte multiples: 768, 512 (the last padding), 256.
      EXPECT_EQ(shards.back()->piece_bytes(), P == 1 ? 768u : P == 2 ? 512u : 256u);
    }
    std::mutex mutex;
    double worst = 0;
    run_local_group(P, [&](Communicator& comm) {
      for (int i : {1, 0}) {
        const std::vector<Tensor> got = shards[size_t(comm.rank())]->gather(i, comm);
        std::lock_guard lock(mutex);
        for (size_t k = 0; k < 3; ++k) {
          const Tensor want = layers[size_t(i)][k].to(layout.members()[k].dtype);
          worst = std::max(worst, testing::rel_l2(got[k].to(DType::F32), want.to(DType::F32)));
        }
      }
    });
    EXPECT_EQ(worst, 0.0) << P << " ranks";
  }
}

TEST(ShardedLayers, RefusesAGroupItIsNotARankOfAndUnsetLayers) {
  ShardedLayers shard(mixed_layout(), 2, 1, 2, Device::cpu());
  shard.set_layer(0, mixed_layer());
  std::string m = error_of([&] {
    run_local_group(3, [&](Communicator& comm) {
      if (comm.rank() == 1) shard.gather(0, comm);
    });
  });
  EXPECT_TRUE(contains(m, "rank 1 of 2 cannot gather over a group in which it is rank 1 of 3"))
      << m;
  m = error_of([&] {
    run_local_group(2, [&](Communicator& comm) {
      if (comm.rank() == 1) shard.gather(1, comm);
    });
  });
  EXPECT_TRUE(contains(m, "layer 1 of 2 was never set")) << m;
  EXPECT_TRUE(contains(error_of([] { ShardedLayers(mixed_layout(), 2, 2, 2, Device::cpu()); }),
                       "rank 2 of 2"));
}

}  // namespace
}  // namespace fastvideo
