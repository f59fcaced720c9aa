#include "models/umt5/cuda/umt5_graphs.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "fastvideo/log.h"

namespace fastvideo {

namespace {

Tensor copy_of(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device());
  out.copy_from(t);
  return out;
}

}  // namespace

Tensor Umt5Graphs::run(const Tensor& x, const std::function<Tensor()>& offset_buckets,
                       const Eager& eager) {
  std::lock_guard lock(mu_);
  const int64_t n = x.size(1);
  auto it = entries_.find(n);
  if (it != entries_.end()) {
    Entry& e = it->second;
    e.last_use = ++uses_;
    e.x.copy_from(x);
    e.graph->replay();
    stats_.replays += 1;
    return copy_of(e.output);
  }
  // The first encode of this count runs eagerly: it builds the plans the capture relies on, and
  // its result is this call's.
  const Tensor buckets = offset_buckets();
  Tensor out = eager(x, buckets);
  if (entries_.size() >= kMaxGraphs) {
    auto oldest = std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
    stats_.graph_memory_bytes -= oldest->second.graph->pool_bytes();
    entries_.erase(oldest);
  }
  const auto t0 = std::chrono::steady_clock::now();
  Entry e;
  e.x = copy_of(x);
  e.offset_buckets = buckets;
  const std::string what = "the text encoder on " + std::to_string(n) + " tokens";
  e.graph = std::make_unique<CudaGraph>(x.device().index, what,
                                        [&] { e.output = eager(e.x, e.offset_buckets); });
  e.last_use = ++uses_;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stats_.graphs += 1;
  stats_.capture_seconds += seconds;
  stats_.graph_memory_bytes += e.graph->pool_bytes();
  log::info("compile mode: captured ", what, " (", e.graph->kernel_nodes(), " kernels) in ",
            seconds, " s; ", e.graph->pool_bytes() >> 20, " MiB of graph memory");
  entries_.emplace(n, std::move(e));
  return out;
}

Umt5Graphs::Stats Umt5Graphs::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace fastvideo
