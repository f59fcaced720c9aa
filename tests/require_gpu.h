// CUDA tests skip only where no GPU exists (CI); scripts/gpu-check.sh treats a skip as a failure.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

namespace fastvideo::testing {

inline bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

}  // namespace fastvideo::testing

#define REQUIRE_GPU() \
  if (!::fastvideo::testing::have_gpu()) GTEST_SKIP() << "no CUDA device on this machine"
