#include "parallel/rank_fault.h"

#include <atomic>

#include "core/env.h"
#include "fastvideo/error.h"

namespace fastvideo {

void fail_if_injected(int rank) {
  static std::atomic<bool> fired{false};
  const int64_t wanted = env_int(kTestFailRankEnv, -1, -1, 1 << 20);
  if (wanted < 0) {
    fired = false;  // unset: the next setting fires again
    return;
  }
  if (wanted == rank && !fired.exchange(true)) {
    throw OutOfDeviceMemory(str_cat("a failure injected by ", kTestFailRankEnv, "=", rank));
  }
}

}  // namespace fastvideo
