// Compile mode's graph caches (the transformer's by shape, UMT5's by token count) keep their most
// recently used graphs: each entry records the tick of its last use, and a cache about to capture
// one past its limit first drops the entry used longest ago, whose graph's memory then leaves the
// cache's stats.
#pragma once

#include <algorithm>
#include <cstddef>

#include "core/compile_stats.h"

namespace fastvideo {

// `entries`: key -> entry with `last_use` and `graph->pool_bytes()`. Leaves room for one more.
template <class Map>
void make_room_for_a_graph(Map& entries, size_t max_graphs, CompileStats& stats) {
  if (entries.size() < max_graphs) return;
  const auto oldest = std::min_element(
      entries.begin(), entries.end(),
      [](const auto& a, const auto& b) { return a.second.last_use < b.second.last_use; });
  stats.graph_memory_bytes -= oldest->second.graph->pool_bytes();
  entries.erase(oldest);
}

}  // namespace fastvideo
