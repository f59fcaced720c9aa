#include "parallel/communicator.h"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// What the ranks of a LocalGroup share: one mailbox per (sender, receiver) and a barrier that
// counts generations, so that a collective's mailboxes are read before the next one writes them.
struct LocalShared {
  explicit LocalShared(int size)
      : size(size), mail(size_t(size) * size), gathered(static_cast<size_t>(size)) {}
  const int size;
  std::mutex mutex;
  std::condition_variable changed;
  int arrived = 0;
  uint64_t generation = 0;
  std::string failure;           // "rank r: cause" once a rank aborted
  std::vector<Tensor> mail;      // [sender · size + receiver]
  std::vector<Tensor> gathered;  // [sender]

  // Waits until every rank has arrived (or one has aborted: then throws naming it).
  void barrier(std::unique_lock<std::mutex>& lock) {
    check(lock);
    const uint64_t mine = generation;
    if (++arrived == size) {
      arrived = 0;
      ++generation;
      changed.notify_all();
    } else {
      changed.wait(lock, [&] { return generation != mine || !failure.empty(); });
    }
    check(lock);
  }
  void check(std::unique_lock<std::mutex>&) const {
    if (!failure.empty()) fail(kGroupStopped, failure);
  }
};

class LocalCommunicator final : public Communicator {
 public:
  LocalCommunicator(std::shared_ptr<LocalShared> shared, int rank)
      : shared_(std::move(shared)), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return shared_->size; }

  std::vector<Tensor> all_to_all(const std::vector<Tensor>& chunks) override {
    check_uniform_chunks(chunks, rank_, size(), "all_to_all");
    LocalShared& s = *shared_;
    std::unique_lock lock(s.mutex);
    for (int j = 0; j < size(); ++j) s.mail[size_t(rank_ * size() + j)] = chunks[size_t(j)];
    s.barrier(lock);
    std::vector<Tensor> received;
    for (int i = 0; i < size(); ++i) received.push_back(s.mail[size_t(i * size() + rank_)]);
    s.barrier(lock);  // every rank has taken its mail before any writes again
    return received;
  }

  Tensor all_gather(const Tensor& t) override {
    FV_CHECK(t.is_contiguous(), "all_gather on rank ", rank_, ": ", t.describe(),
             " is not contiguous");
    LocalShared& s = *shared_;
    std::vector<Tensor> all;
    {
      std::unique_lock lock(s.mutex);
      s.gathered[size_t(rank_)] = t;
      s.barrier(lock);
      all = s.gathered;
      s.barrier(lock);
    }
    check_uniform_chunks(all, rank_, size(), "all_gather");
    Shape stacked = t.shape();
    stacked.insert(stacked.begin(), size());
    Tensor out = Tensor::empty(stacked, t.dtype(), t.device());
    for (int r = 0; r < size(); ++r) out.select(0, r).copy_from(all[size_t(r)]);
    return out;
  }

  // Collectives here complete before they return: only a failure is left to report.
  void wait_collectives() override {
    std::unique_lock lock(shared_->mutex);
    shared_->check(lock);
  }

  GroupMaker fresh_group_maker() const override {
    return [size = size()] { return make_local_group(size); };
  }

  void abort(const std::string& cause) override {
    LocalShared& s = *shared_;
    std::lock_guard lock(s.mutex);
    if (s.failure.empty()) s.failure = "rank " + std::to_string(rank_) + ": " + cause;
    s.changed.notify_all();
  }

 private:
  std::shared_ptr<LocalShared> shared_;
  int rank_;
};

}  // namespace

namespace {

// A collective finished before it was handed out.
class Finished final : public Communicator::Pending {
 public:
  explicit Finished(std::vector<Tensor> result) : result_(std::move(result)) {}
  std::vector<Tensor> wait() override { return std::move(result_); }

 private:
  std::vector<Tensor> result_;
};

}  // namespace

std::unique_ptr<Communicator::Pending> Communicator::start_all_to_all(
    const std::vector<Tensor>& chunks) {
  return std::make_unique<Finished>(all_to_all(chunks));
}

std::unique_ptr<Communicator::Pending> Communicator::start_all_gather(const Tensor& t) {
  return std::make_unique<Finished>(std::vector<Tensor>{all_gather(t)});
}

std::vector<std::unique_ptr<Communicator>> make_local_group(int size) {
  FV_CHECK(size >= 1, "a rank group needs at least one rank, got ", size);
  auto shared = std::make_shared<LocalShared>(size);
  std::vector<std::unique_ptr<Communicator>> ranks;
  for (int r = 0; r < size; ++r) ranks.push_back(std::make_unique<LocalCommunicator>(shared, r));
  return ranks;
}

void check_uniform_chunks(const std::vector<Tensor>& chunks, int rank, int size, const char* what) {
  FV_CHECK(int(chunks.size()) == size, what, " on rank ", rank, ": ", chunks.size(), " chunks for ",
           size, " ranks");
  for (const Tensor& c : chunks) {
    FV_CHECK(c.shape() == chunks[0].shape() && c.dtype() == chunks[0].dtype() &&
                 c.device() == chunks[0].device() && c.is_contiguous(),
             what, " on rank ", rank, ": chunks must be contiguous and alike, got ", c.describe(),
             " beside ", chunks[0].describe());
  }
}

std::string Communicator::name() const { return str_cat("rank ", rank()); }

Communicator::GroupMaker Communicator::fresh_group_maker() const {
  fail(name(), "'s group cannot be made anew");
}

void run_local_group(int size, const std::function<void(Communicator&)>& fn) {
  run_ranks(make_local_group(size), fn);
}

void run_ranks(const std::vector<std::unique_ptr<Communicator>>& ranks,
               const std::function<void(Communicator&)>& fn) {
  const int size = int(ranks.size());
  std::vector<std::string> errors(static_cast<size_t>(size));
  // Each rank's exception itself, so that the failed rank's comes out with its type (an
  // OutOfDeviceMemory keeps the pipeline's stage and advice; a Cancelled stays a stop).
  std::vector<std::exception_ptr> thrown(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  auto run = [&](int r) {
    try {
      fn(*ranks[size_t(r)]);
    } catch (const std::exception& e) {
      errors[size_t(r)] = e.what();
      thrown[size_t(r)] = std::current_exception();
      ranks[size_t(r)]->abort(e.what());
    } catch (...) {
      errors[size_t(r)] = "an exception that is not a std::exception";
      ranks[size_t(r)]->abort(errors[size_t(r)]);
    }
  };
  try {
    for (int r = 0; r < size; ++r) threads.emplace_back(run, r);
  } catch (const std::exception& e) {
    // A thread could not start: the started ranks stop at their next collective.
    ranks[0]->abort(str_cat("could not start the ranks' threads: ", e.what()));
    for (std::thread& t : threads) t.join();
    throw;
  }
  for (std::thread& t : threads) t.join();
  // The rank that failed first is the one whose error is not the group's stop.
  int failed = -1;
  for (int r = 0; r < size && failed < 0; ++r)
    if (!errors[size_t(r)].empty() && !errors[size_t(r)].starts_with(kGroupStopped)) failed = r;
  if (failed >= 0) {
    const std::string name = ranks[size_t(failed)]->name();
    try {
      if (thrown[size_t(failed)]) std::rethrow_exception(thrown[size_t(failed)]);
    } catch (const Error& e) {
      e.rethrow_with_context(name);
    } catch (const std::exception&) {
    }
    fail(name, ": ", errors[size_t(failed)]);
  }
  // Every error is the group's stop (a rank aborted it without throwing, or a watchdog did): that
  // error already names the rank and cause, and the rank that saw it is not the one to blame.
  for (int r = 0; r < size; ++r)
    if (!errors[size_t(r)].empty()) fail(errors[size_t(r)]);
}

}  // namespace fastvideo
