// The residual sum made in its norm's pass (ops/residual_norm.h, issue 11): on the GPU the same
// bytes as gated_residual (or add) followed by the norm, for the sum, the norm and its FP8 rows,
// with and without a gate (contiguous as the DiT's chunks, or strided), modulated and affine (F32
// and BF16 parameters), BF16 and F32 activations, on the warp-per-row (64) and block-per-row (1536
// and 5120, Wan's widths) paths, a CFG-sized batch of 2, and for a y off the 16-byte alignment
// (the sum then made by those ops first: a narrower vector width would add the row's statistics
// in another order); bad inputs refused by name. Skips only where no GPU exists.
#include "ops/residual_norm.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "ops/elementwise.h"
#include "ops/norm.h"
#include "ops/norm_fp8.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);

bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor x = a.contiguous().to(Device::cpu()), y = b.contiguous().to(Device::cpu());
  return x.shape() == y.shape() && x.dtype() == y.dtype() &&
         std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

// D elements a row starting `skip` elements into a buffer, on the GPU: [2, 37, D].
Tensor rows_at(int64_t D, int64_t skip, DType dtype = DType::BF16) {
  return testing::randn({2 * 37 * D + skip})
      .to(dtype)
      .to(kGpu)
      .slice(0, skip, skip + 2 * 37 * D)
      .reshape({2, 37, D});
}

// The fused op against the two ops for rows of dtype dx and width D, y `skip` elements off its
// buffer's start, the modulation's chunks contiguous ([6, B, D], as the DiT's) or strided.
void expect_the_two_ops_bytes(DType dx, int64_t D, int64_t skip, bool strided) {
  const Tensor x = rows_at(D, 0, dx), y = rows_at(D, skip, dx);
  // f32, as the DiT's modulation
  const Tensor mod = testing::randn(strided ? Shape{2, 6, D} : Shape{6, 2, D}).to(kGpu);
  const auto chunk = [&](int k) { return mod.select(strided ? 1 : 0, k); };
  const Tensor gate = chunk(2), shift = chunk(3), scale = chunk(4);
  for (const bool gated : {true, false}) {
    SCOPED_TRACE(str_cat(dtype_name(dx), " D ", D, ", y ", skip, " elements off, ",
                         strided ? "strided" : "contiguous", " chunks, gate ", gated));
    const Tensor g = gated ? gate : Tensor();
    const Tensor sum = gated ? ops::gated_residual(x, y, gate) : ops::add(x, y);
    for (const bool fp8 : {false, true}) {
      if (fp8 && dx != DType::BF16) continue;  // FP8 rows are made from BF16 activations
      const ops::ResidualNorm modulated =
          ops::residual_norm(x, y, g, {1e-6f, shift, scale, true, fp8});
      EXPECT_TRUE(same_bytes(modulated.sum, sum)) << "fp8 " << fp8;
      if (fp8) {
        const ops::Fp8Rows want = ops::layer_norm_modulate_fp8(sum, 1e-6f, shift, scale);
        ASSERT_TRUE(modulated.rows.has_value());
        EXPECT_TRUE(same_bytes(modulated.rows->values, want.values));
        EXPECT_TRUE(same_bytes(modulated.rows->scales, want.scales));
      } else {
        EXPECT_TRUE(
            same_bytes(modulated.normed, ops::layer_norm_modulate(sum, 1e-6f, shift, scale)));
      }
      for (const DType dp : {DType::F32, DType::BF16}) {
        const Tensor w = testing::randn({D}).to(dp).to(kGpu);
        const Tensor b = testing::randn({D}).to(dp).to(kGpu);
        const ops::ResidualNorm affine = ops::residual_norm(x, y, g, {1e-6f, w, b, false, fp8});
        EXPECT_TRUE(same_bytes(affine.sum, sum)) << dtype_name(dp);
        if (fp8) {
          const ops::Fp8Rows want = ops::layer_norm_fp8(sum, 1e-6f, w, b);
          EXPECT_TRUE(same_bytes(affine.rows->values, want.values)) << dtype_name(dp);
          EXPECT_TRUE(same_bytes(affine.rows->scales, want.scales)) << dtype_name(dp);
        } else {
          EXPECT_TRUE(same_bytes(affine.normed, ops::layer_norm(sum, 1e-6f, w, b)))
              << dtype_name(dp);
        }
      }
    }
  }
}

TEST(CudaResidualNorm, EqualsTheResidualThenTheNormByteForByte) {
  REQUIRE_GPU();
  for (const DType dx : {DType::BF16, DType::F32}) {
    for (const int64_t D : {int64_t(64), int64_t(1536), int64_t(5120)}) {
      for (const int64_t skip : {int64_t(0), int64_t(4)}) {
        for (const bool strided : {false, true}) expect_the_two_ops_bytes(dx, D, skip, strided);
      }
    }
  }
}

TEST(CudaResidualNorm, RefusesMismatchedInputsByName) {
  REQUIRE_GPU();
  const Tensor x = rows_at(64, 0);
  std::string m = testing::error_of([&] {
    ops::residual_norm(x, rows_at(64, 0).to(DType::F32), Tensor(), {1e-6f, {}, {}, false, false});
  });
  EXPECT_TRUE(testing::contains(m, "one [B, S, D] shape, dtype and device")) << m;
  m = testing::error_of([&] {
    ops::residual_norm(x, x, Tensor(), {1e-6f, Tensor(), Tensor(), true, false});
  });
  EXPECT_TRUE(testing::contains(m, "shift and scale come together and are required")) << m;
  m = testing::error_of([&] {
    ops::residual_norm(x, x, testing::randn({3, 64}).to(kGpu), {1e-6f, {}, {}, false, false});
  });
  EXPECT_TRUE(testing::contains(m, "gate")) << m;
}

}  // namespace
}  // namespace fastvideo
