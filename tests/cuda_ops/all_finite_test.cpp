// ops::all_finite on the GPU (the NaN/Inf check of tests and debug dumps) finds one planted NaN,
// +Inf or −Inf at the first element, inside the vectorised body and at the last element (in the
// scalar tail for odd lengths), and passes finite random data. Skips only where no GPU exists.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "ops/elementwise.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);

TEST(CudaAllFinite, FindsAPlantedNanOrInfAnywhere) {
  REQUIRE_GPU();
  const float kBad[] = {std::numeric_limits<float>::quiet_NaN(),
                        std::numeric_limits<float>::infinity(),
                        -std::numeric_limits<float>::infinity()};
  for (DType d : {DType::BF16, DType::F32}) {
    for (int64_t n : {int64_t(37), int64_t(4096), int64_t(100003)}) {
      Tensor x = testing::randn({n});
      const std::string what = str_cat(dtype_name(d), "[", n, "]");
      EXPECT_TRUE(ops::all_finite(x.to(d).to(kGpu))) << what;
      for (int64_t at : {int64_t(0), n / 2 + 1, n - 1}) {
        for (float bad : kBad) {
          Tensor planted = x.clone();
          planted.f32()[size_t(at)] = bad;
          EXPECT_FALSE(ops::all_finite(planted.to(d).to(kGpu)))
              << what << " with " << bad << " at " << at;
        }
      }
    }
  }
}

}  // namespace
}  // namespace fastvideo
