// What compile mode (CUDA graphs, issue 11) has cost and done so far, for a model that captures
// its forwards: the transformer (WanForwardGraphs), the text encoder (Umt5Graphs) and the VAE.
#pragma once

#include <cstdint>

namespace fastvideo {

struct CompileStats {
  int graphs = 0;                  // captured so far
  int replays = 0;                 // calls that replayed one
  double capture_seconds = 0;      // one-time cost: capturing and instantiating the graphs
  int64_t graph_memory_bytes = 0;  // device memory the graphs hold for their activations

  void captured(double seconds, int64_t graph_bytes) {
    graphs += 1;
    capture_seconds += seconds;
    graph_memory_bytes += graph_bytes;
  }
  CompileStats& operator+=(const CompileStats& other) {
    graphs += other.graphs;
    replays += other.replays;
    capture_seconds += other.capture_seconds;
    graph_memory_bytes += other.graph_memory_bytes;
    return *this;
  }
};

}  // namespace fastvideo
