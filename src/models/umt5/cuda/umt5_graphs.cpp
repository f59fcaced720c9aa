#include "models/umt5/cuda/umt5_graphs.h"

#include <string>

#include "core/graph_cache_eviction.h"

namespace fastvideo {

Tensor Umt5Graphs::run(const Tensor& x, const std::function<Tensor()>& offset_buckets,
                       const Eager& eager) {
  std::lock_guard lock(mu_);
  const int64_t n = x.size(1);
  auto it = entries_.find(n);
  if (it != entries_.end()) {
    Entry& e = it->second;
    e.last_use = ++uses_;
    stats_.replays += 1;
    return e.graph->replay(x).clone();
  }
  // The first encode of this count runs eagerly: it builds the plans the capture relies on, and
  // its result is this call's.
  const Tensor buckets = offset_buckets();
  Tensor out = eager(x, buckets);
  make_room_for_a_graph(entries_, kMaxGraphs, stats_);
  Entry e;
  e.offset_buckets = buckets;
  e.graph = std::make_unique<CapturedFunction>(
      x, "the text encoder on " + std::to_string(n) + " tokens",
      [&](const Tensor& input) { return eager(input, e.offset_buckets); });
  e.last_use = ++uses_;
  stats_.captured(e.graph->capture_seconds(), e.graph->pool_bytes());
  entries_.emplace(n, std::move(e));
  return out;
}

CompileStats Umt5Graphs::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace fastvideo
