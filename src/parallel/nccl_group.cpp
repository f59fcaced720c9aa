#include "parallel/nccl_group.h"

#include <string>

#include "core/env.h"
#include "fastvideo/error.h"

// FASTVIDEO_HAVE_NCCL is defined only in CUDA builds that found NCCL (CMakeLists.txt).
#ifdef FASTVIDEO_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/cuda/device_allocator.h"
#endif

namespace fastvideo {

std::chrono::milliseconds nccl_timeout() {
  return std::chrono::seconds(env_int(kNcclTimeoutEnv, kNcclTimeout.count(), 1, 86400));
}

#ifdef FASTVIDEO_HAVE_NCCL

namespace {

using Clock = std::chrono::steady_clock;

std::string nccl_error(ncclResult_t result, ncclComm_t comm) {
  std::string s = ncclGetErrorString(result);
  const char* last = comm ? ncclGetLastError(comm) : nullptr;
  if (last && *last) s += str_cat(" (", last, ")");
  return s;
}

// What the ranks of one group share: the communicators, the first failure, and the collectives
// the watchdog waits on.
//
// Locks: `comms_mutex` is held shared around every NCCL call on a communicator and exclusively
// only by abort_all(), so no communicator is aborted (and freed) while a rank is inside a call on
// it. `mutex` guards the rest. Whoever holds both took comms_mutex first.
struct NcclShared {
  struct Pending {
    cudaEvent_t done;
    int rank;
    const char* what;
    Clock::time_point deadline;
  };

  std::vector<int> devices;
  std::vector<ncclComm_t> comms;  // null once aborted
  std::chrono::milliseconds timeout{};
  std::shared_mutex comms_mutex;
  std::mutex mutex;
  std::condition_variable wake;
  std::string failure;  // "rank r (cuda:d): cause" once the group has failed
  bool aborted = false;
  bool stopping = false;
  std::deque<Pending> pending;
  std::thread watchdog;
  // Per rank: its communication stream and the event its compute stream's work is marked with,
  // made on first use by the rank's own thread, destroyed after the communicators.
  std::vector<cudaStream_t> comm_streams;
  std::vector<cudaEvent_t> ready;

  // How errors name rank r: its index in the group and its GPU.
  std::string who(int r) const { return str_cat("rank ", r, " (cuda:", devices[size_t(r)], ")"); }

  ~NcclShared() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (watchdog.joinable()) watchdog.join();
    for (const Pending& p : pending) cudaEventDestroy(p.done);
    if (!failure.empty() || !finalize_all()) abort_all();
    for (ncclComm_t c : comms) {
      if (c) ncclCommDestroy(c);
    }
    for (size_t r = 0; r < comm_streams.size(); ++r) {
      cudaSetDevice(devices[r]);
      if (ready[r]) cudaEventDestroy(ready[r]);
      if (comm_streams[r]) cudaStreamDestroy(comm_streams[r]);  // released once its work is done
    }
  }

  // Finalizes every communicator as one group (a collective among them), within the timeout.
  bool finalize_all() {
    ncclGroupStart();
    for (ncclComm_t c : comms) {
      if (c) ncclCommFinalize(c);
    }
    ncclGroupEnd();
    const Clock::time_point deadline = Clock::now() + timeout;
    for (ncclComm_t c : comms) {
      if (!c) continue;
      ncclResult_t state = ncclInProgress;
      while (state == ncclInProgress) {
        if (ncclCommGetAsyncError(c, &state) != ncclSuccess || Clock::now() > deadline)
          return false;
        std::this_thread::yield();
      }
      if (state != ncclSuccess) return false;
    }
    return true;
  }

  // Aborts every communicator, which ends the NCCL kernels still waiting on a peer and frees them.
  void abort_all() {
    std::unique_lock exclusive(comms_mutex);
    for (ncclComm_t& c : comms) {
      if (c) ncclCommAbort(c);
      c = nullptr;
    }
    std::lock_guard lock(mutex);
    aborted = true;
    wake.notify_all();
  }

  // Records the first failure; the watchdog aborts the communicators.
  void fail_group(const std::string& cause) {
    std::lock_guard lock(mutex);
    if (failure.empty()) failure = cause;
    wake.notify_all();
  }

  void throw_if_failed() {
    std::lock_guard lock(mutex);
    if (!failure.empty()) fail(kGroupStopped, failure);
  }

  // Rank r's communicator for one NCCL call, the shared lock held by `held`; throws once the group
  // has failed.
  ncclComm_t comm_for(int r, std::shared_lock<std::shared_mutex>& held) {
    held = std::shared_lock(comms_mutex);
    throw_if_failed();
    FV_CHECK(comms[size_t(r)], kGroupStopped, who(r), "'s communicator was aborted");
    return comms[size_t(r)];
  }

  // Waits until a non-blocking call on rank r's communicator has been taken (or the group fails).
  void settle(int r, const char* what) {
    const Clock::time_point deadline = Clock::now() + timeout;
    for (;;) {
      ncclResult_t state = ncclSuccess, got = ncclSuccess;
      ncclComm_t comm = nullptr;
      {
        std::shared_lock<std::shared_mutex> held;
        comm = comm_for(r, held);
        got = ncclCommGetAsyncError(comm, &state);
        if (got == ncclSuccess && state == ncclSuccess) return;
        if (got != ncclSuccess || state != ncclInProgress) {
          const std::string why = nccl_error(got != ncclSuccess ? got : state, comm);
          held.unlock();
          fail_group(str_cat(who(r), ": NCCL ", what, " failed: ", why));
        }
      }
      throw_if_failed();
      if (Clock::now() > deadline) {
        fail_group(
            str_cat(who(r), ": NCCL ", what, " was not taken within ", timeout.count(), " ms"));
      }
      std::this_thread::yield();
    }
  }

  // The collective just queued on rank r's stream must finish before its deadline.
  void watch(int r, cudaStream_t stream, const char* what) {
    cudaEvent_t done = nullptr;
    FV_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
    FV_CUDA_CHECK(cudaEventRecord(done, stream));
    {
      std::lock_guard lock(mutex);
      pending.push_back({done, r, what, Clock::now() + timeout});
    }
    wake.notify_all();
  }

  // Until rank r has no collective left in flight (the watchdog retires them), or the group fails.
  void wait_done(int r) {
    std::unique_lock lock(mutex);
    for (;;) {
      if (!failure.empty()) fail(kGroupStopped, failure);
      bool mine = false;
      for (const Pending& p : pending) mine |= p.rank == r;
      if (!mine) return;
      wake.wait_for(lock, std::chrono::milliseconds(5));
    }
  }

  // The watchdog: retires finished collectives; a late one, a CUDA error on one, or an NCCL
  // error on any communicator fails the group, and a failed group is aborted here.
  void run_watchdog() {
    for (;;) {
      std::unique_lock lock(mutex);
      wake.wait_for(lock, std::chrono::milliseconds(2));
      if (stopping) return;
      bool retired = false;
      while (!pending.empty()) {
        Pending& p = pending.front();
        cudaSetDevice(devices[size_t(p.rank)]);
        const cudaError_t state = cudaEventQuery(p.done);
        if (state == cudaErrorNotReady) {
          if (Clock::now() > p.deadline && failure.empty()) {
            failure = str_cat(who(p.rank), ": its ", p.what, " did not finish within ",
                              timeout.count(), " ms (a rank stopped or hung)");
          }
          if (!aborted) break;  // the oldest is still running: so are the later ones
        } else if (state != cudaSuccess && failure.empty()) {
          failure = str_cat(who(p.rank), ": ", p.what, ": ", cudaGetErrorString(state));
        }
        cudaEventDestroy(p.done);
        pending.pop_front();
        retired = true;
      }
      if (retired) wake.notify_all();
      const bool abort_now = !failure.empty() && !aborted;
      lock.unlock();
      if (abort_now) {
        abort_all();
        continue;
      }
      std::shared_lock held(comms_mutex);
      for (size_t r = 0; r < comms.size(); ++r) {
        ncclResult_t state = ncclSuccess;
        if (comms[r] && ncclCommGetAsyncError(comms[r], &state) == ncclSuccess &&
            state != ncclSuccess && state != ncclInProgress) {
          const std::string why = nccl_error(state, comms[r]);
          held.unlock();
          fail_group(str_cat(who(r), ": NCCL: ", why));
          break;
        }
      }
    }
  }
};

// Closes an NCCL group call on every path, also when a call inside it throws.
struct NcclGroupCall {
  NcclGroupCall() { ncclGroupStart(); }
  ~NcclGroupCall() {
    if (open) ncclGroupEnd();
  }
  ncclResult_t end() {
    open = false;
    return ncclGroupEnd();
  }
  bool open = true;
};

// A collective on a rank's communication stream, made before its NCCL calls are queued and told
// when they are (queued()). wait() (or, on an early exit, the destructor) makes the rank's compute
// stream wait for it; until then its inputs and outputs stay held, so the allocator cannot hand
// their memory to compute work that could run while the collective still reads or writes it.
class NcclPending final : public Communicator::Pending {
 public:
  NcclPending(int device, cudaStream_t stream, std::vector<Tensor> inputs,
              std::vector<Tensor> outputs)
      : device_(device),
        stream_(stream),
        inputs_(std::move(inputs)),
        outputs_(std::move(outputs)) {}
  ~NcclPending() override { join(); }

  // The collective is queued: what the compute stream will wait for is recorded now, so later
  // work on the communication stream is not waited for.
  void queued() {
    FV_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    FV_CUDA_CHECK(cudaEventRecord(done_, stream_));
  }

  std::vector<Tensor> wait() override {
    join();
    inputs_.clear();
    return std::move(outputs_);
  }

 private:
  // Failures here are the group's, which its watchdog reports at the next collective.
  void join() {
    if (!stream_) return;
    cudaSetDevice(device_);
    if (!done_ && cudaEventCreateWithFlags(&done_, cudaEventDisableTiming) == cudaSuccess) {
      cudaEventRecord(done_, stream_);  // an early exit: whatever was queued
    }
    if (done_) {
      cudaStreamWaitEvent(CudaContext::get(device_).stream(), done_, 0);
      cudaEventDestroy(done_);
    }
    done_ = nullptr;
    stream_ = nullptr;
  }

  int device_;
  cudaStream_t stream_;
  std::vector<Tensor> inputs_, outputs_;
  cudaEvent_t done_ = nullptr;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::shared_ptr<NcclShared> shared, int rank)
      : shared_(std::move(shared)), rank_(rank) {}
  int rank() const override { return rank_; }
  std::string name() const override { return shared_->who(rank_); }
  int size() const override { return int(shared_->comms.size()); }

  std::vector<Tensor> all_to_all(const std::vector<Tensor>& chunks) override {
    return start_all_to_all(chunks)->wait();
  }

  std::unique_ptr<Pending> start_all_to_all(const std::vector<Tensor>& chunks) override {
    check_uniform_chunks(chunks, rank_, size(), "all_to_all");
    check_on_my_gpu(chunks[0], "all_to_all");
    shared_->throw_if_failed();
    std::vector<Tensor> received;
    for (int j = 0; j < size(); ++j) {
      received.push_back(Tensor::empty(chunks[0].shape(), chunks[0].dtype(), chunks[0].device()));
    }
    const size_t bytes = chunks[0].nbytes();
    cudaStream_t stream = stream_after_compute();
    auto pending = std::make_unique<NcclPending>(device(), stream, chunks, received);
    if (bytes > 0) {
      {
        std::shared_lock<std::shared_mutex> held;
        ncclComm_t comm = shared_->comm_for(rank_, held);
        NcclGroupCall group;
        for (int j = 0; j < size(); ++j) {
          check(ncclSend(chunks[size_t(j)].raw_data(), bytes, ncclUint8, j, comm, stream), comm,
                "all_to_all");
          check(ncclRecv(received[size_t(j)].raw_data(), bytes, ncclUint8, j, comm, stream), comm,
                "all_to_all");
        }
        check(group.end(), comm, "all_to_all");
      }
      shared_->settle(rank_, "all_to_all");
      shared_->watch(rank_, stream, "all_to_all");
    }
    pending->queued();
    return pending;
  }

  Tensor all_gather(const Tensor& t) override { return start_all_gather(t)->wait()[0]; }

  std::unique_ptr<Pending> start_all_gather(const Tensor& t) override {
    FV_CHECK(t.is_contiguous(), "all_gather on rank ", rank_, ": ", t.describe(),
             " is not contiguous");
    check_on_my_gpu(t, "all_gather");
    shared_->throw_if_failed();
    Shape stacked = t.shape();
    stacked.insert(stacked.begin(), size());
    Tensor all = Tensor::empty(stacked, t.dtype(), t.device());
    cudaStream_t stream = stream_after_compute();
    auto pending = std::make_unique<NcclPending>(device(), stream, std::vector<Tensor>{t},
                                                 std::vector<Tensor>{all});
    if (t.numel() > 0) {
      {
        std::shared_lock<std::shared_mutex> held;
        ncclComm_t comm = shared_->comm_for(rank_, held);
        check(ncclAllGather(t.raw_data(), all.raw_data(), t.nbytes(), ncclUint8, comm, stream),
              comm, "all_gather");
      }
      shared_->settle(rank_, "all_gather");
      shared_->watch(rank_, stream, "all_gather");
    }
    pending->queued();
    return pending;
  }

  void wait_collectives() override { shared_->wait_done(rank_); }

  void abort(const std::string& cause) override {
    shared_->fail_group(str_cat(shared_->who(rank_), ": ", cause));
  }

  // The old group is gone by the time it runs (its buffers freed); the allocator's cache goes back
  // to the driver first, as NCCL's own cudaMalloc cannot take it (the failure was likely an
  // out-of-memory).
  GroupMaker fresh_group_maker() const override {
    return [devices = shared_->devices, timeout = shared_->timeout] {
      for (int d : devices) DeviceAllocator::get(d).release_cached();
      return make_nccl_group(devices, timeout);
    };
  }

 private:
  int device() const { return shared_->devices[size_t(rank_)]; }

  void check_on_my_gpu(const Tensor& t, const char* what) const {
    FV_CHECK(t.device() == Device::cuda(device()), what, " on rank ", rank_, ": ", t.describe(),
             " is not on this rank's GPU cuda:", device());
  }

  // The rank's communication stream, once the work queued so far on its compute stream has
  // finished: every collective runs there, so one started early overlaps the compute queued after
  // it, and NCCL's kernels of one communicator stay in one stream's order. It has the device's
  // highest priority, so a collective's blocks are scheduled ahead of compute blocks waiting.
  cudaStream_t stream_after_compute() {
    cudaStream_t compute = use_cuda_device(device()).stream();
    cudaStream_t& stream = shared_->comm_streams[size_t(rank_)];
    cudaEvent_t& ready = shared_->ready[size_t(rank_)];
    if (!stream) {
      int least = 0, greatest = 0;
      FV_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest));
      FV_CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
      FV_CUDA_CHECK(cudaStreamCreateWithPriority(&stream, cudaStreamNonBlocking, greatest));
    }
    // One event serves every call: a wait takes the record made just before it.
    FV_CUDA_CHECK(cudaEventRecord(ready, compute));
    FV_CUDA_CHECK(cudaStreamWaitEvent(stream, ready, 0));
    return stream;
  }

  // An NCCL call's immediate result: in progress is fine (settle waits); anything else fails the
  // group, naming this rank. The caller's shared lock stays held while the error unwinds its
  // scope (an open NCCL group is ended there), so the watchdog aborts the communicators after.
  void check(ncclResult_t result, ncclComm_t comm, const char* what) {
    if (result == ncclSuccess || result == ncclInProgress) return;
    const std::string why = nccl_error(result, comm);
    shared_->fail_group(str_cat(shared_->who(rank_), ": NCCL ", what, " failed: ", why));
    shared_->throw_if_failed();
  }

  std::shared_ptr<NcclShared> shared_;
  int rank_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> make_nccl_group(const std::vector<int>& devices,
                                                           std::chrono::milliseconds timeout) {
  FV_CHECK(!devices.empty(), "an NCCL group needs at least one GPU");
  FV_CHECK(timeout.count() > 0, "an NCCL group's timeout must be positive, got ", timeout.count(),
           " ms");
  int count = 0;
  FV_CUDA_CHECK(cudaGetDeviceCount(&count));
  std::set<int> seen;
  for (int d : devices) {
    FV_CHECK(d >= 0 && d < count, "an NCCL group on GPU ", d, ": this machine has ", count,
             " GPU(s), 0 to ", count - 1);
    FV_CHECK(seen.insert(d).second, "an NCCL group names GPU ", d,
             " twice; NCCL runs one rank per GPU");
  }
  // NVLink multicast stays off (it can take a shared host's GPUs out of service); an explicit
  // setting in the environment wins.
  setenv("NCCL_NVLS_ENABLE", "0", 0);

  auto shared = std::make_shared<NcclShared>();
  shared->devices = devices;
  shared->timeout = timeout;
  shared->comms.assign(devices.size(), nullptr);
  shared->comm_streams.assign(devices.size(), nullptr);
  shared->ready.assign(devices.size(), nullptr);
  ncclUniqueId id;
  ncclResult_t r = ncclGetUniqueId(&id);
  FV_CHECK(r == ncclSuccess, "NCCL: no unique id for a group on ", devices.size(),
           " GPU(s): ", ncclGetErrorString(r));
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  try {
    {
      NcclGroupCall group;
      for (size_t i = 0; i < devices.size() && (r == ncclSuccess || r == ncclInProgress); ++i) {
        use_cuda_device(devices[i]);
        r = ncclCommInitRankConfig(&shared->comms[i], int(devices.size()), id, int(i), &config);
      }
      const ncclResult_t end = group.end();
      if (r == ncclSuccess || r == ncclInProgress) r = end;
    }
    FV_CHECK(r == ncclSuccess || r == ncclInProgress, "NCCL: a group on ", devices.size(),
             " GPU(s) failed to start: ", ncclGetErrorString(r));
    for (size_t i = 0; i < devices.size(); ++i) shared->settle(int(i), "initialisation");
  } catch (const std::exception& e) {
    shared->fail_group(e.what());  // so the half-made communicators are aborted, not finalized
    throw;
  }
  shared->watchdog = std::thread([s = shared.get()] { s->run_watchdog(); });

  std::vector<std::unique_ptr<Communicator>> ranks;
  for (size_t i = 0; i < devices.size(); ++i) {
    ranks.push_back(std::make_unique<NcclCommunicator>(shared, int(i)));
  }
  return ranks;
}

#else  // no NCCL in this build

std::vector<std::unique_ptr<Communicator>> make_nccl_group(const std::vector<int>& devices,
                                                           std::chrono::milliseconds) {
  fail("a group on ", devices.size(),
       " GPU(s) needs NCCL, and this build has none (no CUDA backend, or CMake found no nccl.h "
       "and libnccl)");
}

#endif

}  // namespace fastvideo
