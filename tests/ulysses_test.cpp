// Ulysses sequence parallelism on the CPU (parallel/ulysses.h, issue 15), its ranks as threads of a
// local group: the all-to-all layouts, attention over sequence shards (padding included) against
// attention on one rank, heads that do not divide, and a failing rank that stops the others
// without a hang, its error naming it.
#include "parallel/ulysses.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <mutex>
#include <stdexcept>

#include "ops/attention.h"
#include "parallel/nccl_group.h"
#include "parallel/replica_group.h"
#include "test_util.h"

namespace fastvideo {
namespace {

TEST(SequenceShard, PadsToAMultipleOfTheRanks) {
  const SequenceShard s = SequenceShard::of(37, 2, 4);
  EXPECT_EQ(s.padded, 40);
  EXPECT_EQ(s.begin, 20);
  EXPECT_EQ(s.end, 30);
  EXPECT_EQ(SequenceShard::of(36, 3, 4).end, 36);
  EXPECT_EQ(SequenceShard::of(5, 0, 1).padded, 5);
}

// Each rank's tokens out and back: sequence_to_heads then heads_to_sequence is the identity, and
// rank r's head-sharded view is every token of its heads.
TEST(Ulysses, AllToAllTradesTokenShardsForHeadShards) {
  const Tensor x = testing::randn({2, 37, 12, 8});
  for (const int P : {1, 2, 3, 4}) {
    run_local_group(P, [&](Communicator& comm) {
      const SequenceShard shard = SequenceShard::of(37, comm.rank(), P);
      const Tensor local = shard_sequence(x, shard);
      const Tensor heads = sequence_to_heads(local, comm);
      const int64_t H = 12 / P;
      EXPECT_EQ(heads.shape(), Shape({2, shard.padded, H, 8}));
      EXPECT_EQ(testing::rel_l2(heads.slice(1, 0, 37).contiguous(),
                                x.slice(2, comm.rank() * H, (comm.rank() + 1) * H).contiguous()),
                0.0);
      EXPECT_EQ(testing::rel_l2(heads_to_sequence(heads, comm), local), 0.0);
      EXPECT_EQ(testing::rel_l2(gather_sequence(local, shard, comm), x), 0.0);
    });
  }
}

// Exchanges started one after another and finished in another order give what sequence_to_heads
// gives for each (the overlap in the transformer's blocks starts q, k, v, gate this way).
TEST(Ulysses, StartedExchangesFinishInAnyOrder) {
  const Tensor a = testing::randn({1, 21, 6, 4}), b = testing::randn({1, 21, 6, 4});
  run_local_group(3, [&](Communicator& comm) {
    const SequenceShard shard = SequenceShard::of(21, comm.rank(), 3);
    const Tensor la = shard_sequence(a, shard), lb = shard_sequence(b, shard);
    HeadsExchange first(la, comm), second(lb, comm);
    const Tensor got_b = second.finish(), got_a = first.finish();
    EXPECT_EQ(testing::rel_l2(got_a, sequence_to_heads(la, comm)), 0.0);
    EXPECT_EQ(testing::rel_l2(got_b, sequence_to_heads(lb, comm)), 0.0);
    EXPECT_THROW(first.finish(), Error);
  });
}

// Attention over shards equals attention on one rank: 37 tokens (padded to 38, 39 or 40), batch 2,
// 12 heads, 1 to 4 ranks; a padded key would change every row. And 3 tokens over 4 ranks, where the
// last rank holds only padding.
TEST(Ulysses, AttentionOverShardsIsAttentionOnOneRank) {
  for (const int64_t tokens : {37, 3}) {
    const Tensor q = testing::randn({2, tokens, 12, 16}), k = testing::randn({2, tokens, 12, 16}),
                 v = testing::randn({2, tokens, 12, 16});
    const Tensor want = ops::attention(q, k, v, 0.25f);
    const auto attend = [](const Tensor& a, const Tensor& b, const Tensor& c) {
      return ops::attention(a, b, c, 0.25f);
    };
    for (const int P : {1, 2, 3, 4}) {
      std::mutex mutex;
      double worst = 0;
      run_local_group(P, [&](Communicator& comm) {
        const SequenceShard shard = SequenceShard::of(tokens, comm.rank(), P);
        const Tensor out = ulysses_attention(shard_sequence(q, shard), shard_sequence(k, shard),
                                             shard_sequence(v, shard), shard, comm, attend);
        const double err = testing::rel_l2(gather_sequence(out, shard, comm), want);
        std::lock_guard lock(mutex);
        worst = std::max(worst, err);
      });
      EXPECT_LE(worst, 1e-6) << tokens << " tokens, " << P << " ranks";
    }
  }
}

TEST(Ulysses, HeadsThatDoNotDivideAreRefusedByName) {
  const Tensor x = testing::randn({1, 10, 12, 8});
  const std::string m = testing::error_of([&] {
    run_local_group(5, [&](Communicator& comm) {
      const SequenceShard shard = SequenceShard::of(10, comm.rank(), 5);
      const Tensor local = shard_sequence(x, shard);
      ulysses_attention(local, local, local, shard, comm,
                        [](const Tensor& a, const Tensor&, const Tensor&) { return a; });
    });
  });
  EXPECT_TRUE(testing::contains(m, "12 attention heads do not divide among sp_size = 5")) << m;
}

// Rank 1 fails before its first collective (as an out-of-memory would); the others, already
// waiting in theirs, stop with it, and the error names rank 1 and its cause.
TEST(Ulysses, AFailingRankStopsTheGroupAndIsNamed) {
  const Tensor x = testing::randn({1, 12, 6, 8});
  const std::string m = testing::error_of([&] {
    run_local_group(3, [&](Communicator& comm) {
      if (comm.rank() == 1) throw std::runtime_error("out of device memory in the FFN");
      sequence_to_heads(shard_sequence(x, SequenceShard::of(12, comm.rank(), 3)), comm);
      sequence_to_heads(shard_sequence(x, SequenceShard::of(12, comm.rank(), 3)), comm);
    });
  });
  EXPECT_TRUE(testing::contains(m, "rank 1: out of device memory in the FFN")) << m;
}

// The failed rank's error keeps its type through the group (audit: an out-of-memory on one rank
// came out as a plain Error, so the pipeline's out-of-memory advice and Python's OutOfDeviceMemory
// never applied with several ranks).
TEST(Ulysses, AFailingRanksErrorKeepsItsType) {
  const Tensor x = testing::randn({1, 12, 6, 8});
  try {
    run_local_group(3, [&](Communicator& comm) {
      if (comm.rank() == 2) throw OutOfDeviceMemory("cudaMalloc of 2 GiB failed");
      sequence_to_heads(shard_sequence(x, SequenceShard::of(12, comm.rank(), 3)), comm);
    });
    ADD_FAILURE() << "no error";
  } catch (const OutOfDeviceMemory& e) {
    EXPECT_STREQ(e.what(), "rank 2: cudaMalloc of 2 GiB failed");
  }
  EXPECT_THROW(run_local_group(2,
                               [](Communicator& comm) {
                                 if (comm.rank() == 0) throw Cancelled("stopped on request");
                               }),
               Cancelled);
}

// A call whose rank failed stops the group for good; the model's next call runs on a fresh group
// of the same ranks (audit: one failure left every later generation failing).
TEST(Ulysses, TheCallAfterAFailureRunsOnAFreshGroup) {
  struct Model {};
  const Model model;
  ReplicaGroup<Model> group({}, make_local_group(3), "sequence parallelism", "model");
  const Tensor x = testing::randn({1, 12, 6, 8});
  const auto exchange = [&](const Model&, Communicator& comm) {
    sequence_to_heads(shard_sequence(x, SequenceShard::of(12, comm.rank(), 3)), comm);
  };
  const std::string m = testing::error_of([&] {
    group.run(model, [&](const Model& mdl, Communicator& comm) {
      if (comm.rank() == 1) throw OutOfDeviceMemory("cudaMalloc failed");
      exchange(mdl, comm);
    });
  });
  EXPECT_TRUE(testing::contains(m, "rank 1: cudaMalloc failed")) << m;
  EXPECT_NO_THROW(group.run(model, exchange));
  EXPECT_NO_THROW(group.run(model, exchange));
}

// A rank that aborts the group without throwing (as a watchdog does for a collective that never
// finished): the others' errors are the group's stop, which names rank 2 and its cause, and none
// of them is blamed in its place.
TEST(Ulysses, AGroupStoppedWithoutAThrowNamesTheRankThatStoppedIt) {
  const Tensor x = testing::randn({1, 12, 6, 8});
  const std::string m = testing::error_of([&] {
    run_local_group(3, [&](Communicator& comm) {
      if (comm.rank() == 2) {
        comm.abort("its all_to_all did not finish within 300 s");
        return;
      }
      sequence_to_heads(shard_sequence(x, SequenceShard::of(12, comm.rank(), 3)), comm);
    });
  });
  EXPECT_TRUE(testing::contains(m, "rank 2: its all_to_all did not finish within 300 s")) << m;
  EXPECT_FALSE(testing::contains(m, "rank 0:")) << m;
  EXPECT_FALSE(testing::contains(m, "rank 1:")) << m;
}

// An all-to-all moves equal chunks (what NCCL's send/receive pairs need): a chunk of another
// shape, or too few chunks, is refused naming the rank.
TEST(Ulysses, AllToAllRefusesUnequalChunksNamingTheRank) {
  std::string m = testing::error_of([&] {
    run_local_group(2, [&](Communicator& comm) {
      comm.all_to_all({testing::randn({2, 3}), testing::randn({2, comm.rank() == 1 ? 4 : 3})});
    });
  });
  EXPECT_TRUE(testing::contains(m, "all_to_all on rank 1: chunks must be contiguous and alike"))
      << m;
  m = testing::error_of([&] {
    run_local_group(2, [&](Communicator& comm) { comm.all_to_all({testing::randn({2})}); });
  });
  EXPECT_TRUE(testing::contains(m, "1 chunks for 2 ranks")) << m;
}

// all_gather stacks every rank's tensor in rank order, as NCCL writes it; tensors of different
// shapes on different ranks are refused naming the collective.
TEST(Ulysses, AllGatherStacksTheRanksTensorsInRankOrder) {
  std::vector<Tensor> sent, got(3);
  for (int r = 0; r < 3; ++r) sent.push_back(testing::randn({2, 5}));
  run_local_group(3, [&](Communicator& comm) {
    got[size_t(comm.rank())] = comm.all_gather(sent[size_t(comm.rank())]);
  });
  for (int r = 0; r < 3; ++r) {
    ASSERT_EQ(got[size_t(r)].shape(), (Shape{3, 2, 5}));
    for (int s = 0; s < 3; ++s)
      EXPECT_EQ(testing::rel_l2(got[size_t(r)].select(0, s).contiguous(), sent[size_t(s)]), 0.0)
          << "rank " << r << " from rank " << s;
  }
  const std::string m = testing::error_of([&] {
    run_local_group(
        2, [&](Communicator& comm) { comm.all_gather(testing::randn({comm.rank() + 1})); });
  });
  EXPECT_TRUE(testing::contains(m, "all_gather on rank")) << m;
}

// The collectives' timeout: 300 s, or FASTVIDEO_NCCL_TIMEOUT_S (the multi-GPU check script sets 60
// so that a hang costs a minute of a short machine loan); a value out of range is refused by name.
TEST(NcclGroup, TheTimeoutComesFromTheEnvironmentWhereSet) {
  ::unsetenv("FASTVIDEO_NCCL_TIMEOUT_S");
  EXPECT_EQ(nccl_timeout(), std::chrono::seconds(300));
  ::setenv("FASTVIDEO_NCCL_TIMEOUT_S", "60", 1);
  EXPECT_EQ(nccl_timeout(), std::chrono::seconds(60));
  ::setenv("FASTVIDEO_NCCL_TIMEOUT_S", "0", 1);
  EXPECT_TRUE(
      testing::contains(testing::error_of([] { nccl_timeout(); }), "FASTVIDEO_NCCL_TIMEOUT_S"));
  ::unsetenv("FASTVIDEO_NCCL_TIMEOUT_S");
}

}  // namespace
}  // namespace fastvideo
