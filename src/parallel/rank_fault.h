// A rank's failure on demand, for the tests of how one ends a run (issue 15): with
// FASTVIDEO_TEST_FAIL_RANK=r set, the next call of a replica group (the transformer's sequence
// parallelism, the VAE's height split) fails on rank r as an out-of-memory would, once until the
// variable is unset. Unset, nothing changes.
#pragma once

namespace fastvideo {

inline constexpr const char* kTestFailRankEnv = "FASTVIDEO_TEST_FAIL_RANK";

// Throws OutOfDeviceMemory naming the variable when rank `rank` is the one to fail now.
void fail_if_injected(int rank);

}  // namespace fastvideo
