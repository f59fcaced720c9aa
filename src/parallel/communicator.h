// Collective communication between the ranks that share one generation (issue 15: sequence
// parallelism). LocalGroup runs its ranks as threads of one process that exchange tensors through
// shared memory: the CPU's ranks, and the reference the NCCL group is tested against. A rank that
// fails calls abort(); every other rank's next (or current) collective then throws an error naming
// that rank and its cause instead of waiting for it.
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
  // chunks[j] (one per rank) goes to rank j; returns the chunk each rank sent this one, in rank
  // order. Every rank calls it, in the same order as its other collectives.
  virtual std::vector<Tensor> all_to_all(const std::vector<Tensor>& chunks) = 0;
  // Every rank's t, in rank order.
  virtual std::vector<Tensor> all_gather(const Tensor& t) = 0;
  // This rank has failed with `cause`: the others stop at their next collective.
  virtual void abort(const std::string& cause) = 0;
};

// `size` ranks in one process, rank i the i-th communicator; each is used by one thread. Tensors
// pass by handle, not copied: a sender must not change a chunk after sending it.
std::vector<std::unique_ptr<Communicator>> make_local_group(int size);

// Runs fn(rank's communicator) on `size` threads of a local group and waits for all. A rank that
// throws aborts the group, so the others stop at their next collective instead of waiting; then
// the failing rank's error is rethrown, its message starting "rank r: ".
void run_local_group(int size, const std::function<void(Communicator&)>& fn);

}  // namespace fastvideo
