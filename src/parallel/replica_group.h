// A model's ranks in one process (issue 15): rank 0 runs on the model itself and rank r on
// replicas[r − 1] (the same weights, each on its own device), or every rank on the model itself
// when there are no replicas (the CPU's threads). The transformer's sequence parallelism and the
// VAE's height split both hold one, and run a call as every rank at once.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/tensor.h"
#include "fastvideo/error.h"
#include "fastvideo/log.h"
#include "parallel/communicator.h"
#include "parallel/rank_fault.h"

namespace fastvideo {

template <class Model>
class ReplicaGroup {
 public:
  // `what` names the mode and `model` the kind of model in errors ("sequence parallelism",
  // "transformer"): at least one rank, and replicas for every rank but 0 or none.
  ReplicaGroup(std::vector<std::unique_ptr<Model>> replicas,
               std::vector<std::unique_ptr<Communicator>> comms, const char* what,
               const char* model)
      : replicas_(std::move(replicas)),
        comms_(std::move(comms)),
        size_(int(comms_.size())),
        what_(what) {
    const int P = size();
    FV_CHECK(P >= 1, what, " needs at least one rank");
    FV_CHECK(replicas_.empty() || int(replicas_.size()) == P - 1, what, " over ", P,
             " ranks needs ", P - 1, " replicas of the ", model, " (or none on the CPU), got ",
             replicas_.size());
  }

  // The rank count, fixed (comms_ is empty while a fresh group cannot be made).
  int size() const { return size_; }
  const std::vector<std::unique_ptr<Model>>& replicas() const { return replicas_; }

  // Rank r's model, `self` being rank 0's.
  const Model& model(const Model& self, int r) const {
    return r == 0 || replicas_.empty() ? self : *replicas_[size_t(r - 1)];
  }

  // t on each rank's model's device, by rank, copied on the calling thread before the ranks start:
  // a copy made on a rank's thread would wait for whatever rank 0 had queued by then, a
  // collective's wait included, which that rank's own part of the collective can never meet.
  std::vector<Tensor> to_each_rank(const Model& self, const Tensor& t) const {
    std::vector<Tensor> copies;
    for (int r = 0; r < size(); ++r) copies.push_back(t.to(model(self, r).device()));
    return copies;
  }

  // fn(rank's model, its communicator) on every rank at once (run_ranks), one call at a time.
  // Each rank then waits for its collectives: one that fails after its call returned (its work
  // was queued) fails this call, not a later one.
  // A call that failed stopped the group (every failing rank aborts it), so the next call first
  // makes a fresh group of the same ranks (audit: one failure, an out-of-memory say, left every
  // later generation of the generator failing, and `fastvideo serve` with it).
  void run(const Model& self, const std::function<void(const Model&, Communicator&)>& fn) {
    std::lock_guard lock(mutex_);
    if (remake_) {
      comms_.clear();      // the failed group's buffers go before the new one's are made
      comms_ = remake_();  // throws, keeping remake_ for the next call, where it cannot be made
      remake_ = nullptr;
      log::info(what_, ": a new rank group after the last call's failure");
    }
    try {
      run_ranks(comms_, [&](Communicator& comm) {
        fail_if_injected(comm.rank());
        fn(model(self, comm.rank()), comm);
        comm.wait_collectives();
      });
    } catch (...) {
      try {
        remake_ = comms_.front()->fresh_group_maker();
      } catch (...) {
        // A group that cannot be made anew stays stopped, and its next call says so.
      }
      throw;
    }
  }

 private:
  std::vector<std::unique_ptr<Model>> replicas_;  // ranks 1..; empty: the model itself
  std::vector<std::unique_ptr<Communicator>> comms_;
  const int size_;
  const char* what_;
  // Set once a call failed (comms_ is then stopped for good): makes a fresh group of the same
  // ranks.
  Communicator::GroupMaker remake_;
  std::mutex mutex_;
};

}  // namespace fastvideo
