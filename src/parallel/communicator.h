// Collective communication between the ranks that share one generation (issue 15: sequence
// parallelism). Every group runs its ranks as threads of one process. The local group exchanges
// tensors through shared memory: the CPU's ranks, and the reference the NCCL group
// (parallel/nccl_group.h, one GPU a rank) is tested against. A rank that fails calls abort();
// every other rank's next (or current) collective then throws an error naming that rank and its
// cause instead of waiting for it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastvideo {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // How errors name this rank: "rank r", and its GPU where it has one ("rank r (cuda:d)").
  virtual std::string name() const;
  // chunks[j] (one per rank) goes to rank j; returns the chunk each rank sent this one, in rank
  // order. Every chunk on every rank has one shape and dtype (Ulysses' shards are equal), and is
  // contiguous. Every rank calls it, in the same order as its other collectives.
  virtual std::vector<Tensor> all_to_all(const std::vector<Tensor>& chunks) = 0;

  // A collective under way; wait() gives what the collective would have returned (all_gather's
  // one tensor as a vector of one), ready for this rank's work.
  class Pending {
   public:
    virtual ~Pending() = default;
    virtual std::vector<Tensor> wait() = 0;  // once
  };
  // all_to_all and all_gather started now and finished by wait() (issue 15: communication
  // overlapped with computation). Where the group has a communication stream (NCCL), the
  // collective runs there as soon as the work queued so far has finished, while the rank's compute
  // stream goes on with what does not need the result; elsewhere it is the plain collective, done
  // before this returns. The inputs must not change until wait(), and every rank starts its
  // collectives in the same order.
  virtual std::unique_ptr<Pending> start_all_to_all(const std::vector<Tensor>& chunks);
  virtual std::unique_ptr<Pending> start_all_gather(const Tensor& t);
  // Every rank's t (one shape and dtype on every rank, contiguous) stacked in rank order: one
  // contiguous [size, t's shape...] tensor, as NCCL writes it.
  virtual Tensor all_gather(const Tensor& t) = 0;
  // This rank has failed with `cause`: the others stop at their next collective.
  virtual void abort(const std::string& cause) = 0;
  // Waits until this rank's collectives so far have finished, and throws if the group has failed
  // meanwhile: a rank's last collective may fail after it returned (its work is queued).
  virtual void wait_collectives() = 0;
  // What makes a new group of the same ranks (devices, timeout), holding nothing of this one: a
  // failed group stays stopped, so whoever holds one frees it and makes a fresh one before the
  // next call (ReplicaGroup). Asked of one rank, not while the ranks run.
  using GroupMaker = std::function<std::vector<std::unique_ptr<Communicator>>()>;
  virtual GroupMaker fresh_group_maker() const;
};

// `size` ranks in one process, rank i the i-th communicator; each is used by one thread. Tensors
// pass by handle, not copied: a sender must not change a chunk after sending it.
std::vector<std::unique_ptr<Communicator>> make_local_group(int size);

// The start of the error a rank's collective throws once another rank has aborted the group.
inline constexpr const char* kGroupStopped = "rank group stopped: ";

// Runs fn(rank's communicator) on one thread per rank and waits for all. A rank that throws
// aborts the group, so the others stop at their next collective instead of waiting; then the
// failing rank's error is rethrown, its message starting with the rank's name() ("rank r: ").
void run_ranks(const std::vector<std::unique_ptr<Communicator>>& ranks,
               const std::function<void(Communicator&)>& fn);

// run_ranks on a local group of `size` ranks.
void run_local_group(int size, const std::function<void(Communicator&)>& fn);

// The checks every group makes of a collective's inputs: chunks (one per rank) of one shape and
// dtype, contiguous. Errors name the rank and the collective (`what`).
void check_uniform_chunks(const std::vector<Tensor>& chunks, int rank, int size, const char* what);

}  // namespace fastvideo
