// fastvideo bench dit: one Wan2.1 transformer forward on a GPU at the real sizes (wan21.md §0,
// §1.8), with random bf16 weights built in device memory or a checkpoint's weights, timed as the
// median of CUDA-synchronised runs. tools/bench/torch_dit_anchor.py is the PyTorch anchor for the
// same shapes.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace fastvideo::cli {

struct BenchDitFlags {
  std::string config = "1.3b";  // 1.3b (480×832×81) | 14b (720×1280×81)
  std::string model;            // checkpoint folder: its transformer instead of random weights
  std::string device = "cuda";
  std::string json;
  int height = 0, width = 0, num_frames = 0;  // 0: the config's benchmark size
  int layers = 0;                             // 0: all (14b: as many as fit)
  int warmup = 2, repeats = 5;
};

void add_bench_dit_options(CLI::App& dit, BenchDitFlags& flags);
int run_bench_dit(const BenchDitFlags& flags);

}  // namespace fastvideo::cli
