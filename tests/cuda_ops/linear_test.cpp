// ops::cuda::linear, linear_gelu and matmul (cuBLASLt) against their CPU twins. BF16 results are
// compared with the CPU twin run on the bf16-rounded inputs (DESIGN §3: rel_l2 ≤ 1e-2); F32 runs
// full fp32 math, so it matches to ≤ 1e-5 (TF32 would miss that by two orders of magnitude).
#include "ops/linear.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/cuda/cuda_context.h"
#include "ops/elementwise.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);

// The caching allocator gives a freed block of the same size to the next allocation of that size.
// Leaving one full of NaN there means an op that fails to write its output cannot pass on a
// previous test's result.
void poison_next_output(const Shape& shape, DType dtype) {
  Tensor poisoned = Tensor::empty(shape, dtype, kGpu);
  poisoned.copy_from(Tensor::full(shape, std::nanf("")));
}

// Device copy of x in `dtype`, and the f32 CPU values the device actually holds.
struct Operand {
  Tensor gpu, cpu;
};
Operand operand(const Tensor& x, DType dtype) {
  Tensor stored = x.to(dtype);
  return {stored.to(kGpu), stored.to(DType::F32)};
}

Shape out_shape(const Shape& x_shape, int64_t out) {
  Shape s = x_shape;
  s.back() = out;
  return s;
}

Tensor to_host_f32(const Tensor& t) { return t.to(Device::cpu()).to(DType::F32); }

// y = linear(x, W, b) or linear_gelu on the GPU, against the CPU twin on the stored values.
double linear_error(const Shape& x_shape, int64_t out, DType dtype, bool bias, bool gelu,
                    DType bias_dtype) {
  const int64_t in = x_shape.back();
  Operand x = operand(testing::randn(x_shape), dtype);
  Operand w = operand(testing::randn({out, in}, float(1.0 / std::sqrt(double(in)))), dtype);
  Operand b = bias ? operand(testing::randn({out}, 0.5f), bias_dtype) : Operand{};
  // cuBLASLt adds the bias in the output dtype: a bias of another dtype is converted first.
  const Tensor b_ref = bias ? b.cpu.to(dtype).to(DType::F32) : Tensor();
  poison_next_output(out_shape(x_shape, out), dtype);
  Tensor y = gelu ? ops::linear_gelu(x.gpu, w.gpu, b.gpu) : ops::linear(x.gpu, w.gpu, b.gpu);
  EXPECT_EQ(y.dtype(), dtype);
  EXPECT_EQ(y.device(), kGpu);
  EXPECT_EQ(y.shape(), out_shape(x_shape, out));
  Tensor ref =
      gelu ? ops::cpu::linear_gelu(x.cpu, w.cpu, b_ref) : ops::cpu::linear(x.cpu, w.cpu, b_ref);
  return testing::rel_l2(to_host_f32(y), ref);
}

TEST(CudaLinear, Bf16MatchesTheCpuTwinAtOddSizesWithBatchDims) {
  REQUIRE_GPU();
  for (const Shape& x_shape : {Shape{3, 37, 19}, Shape{2, 5, 129}, Shape{7, 8}}) {
    for (int64_t out : {23, 64}) {
      const std::string what = str_cat(shape_str(x_shape), " -> ", out);
      EXPECT_LE(linear_error(x_shape, out, DType::BF16, true, false, DType::BF16), 1e-2) << what;
      EXPECT_LE(linear_error(x_shape, out, DType::BF16, true, false, DType::F32), 1e-2)
          << what << " (f32 bias)";
      EXPECT_LE(linear_error(x_shape, out, DType::BF16, false, false, DType::BF16), 1e-2)
          << what << " (no bias)";
    }
  }
}

TEST(CudaLinear, F32IsFullFp32NotTf32) {
  REQUIRE_GPU();
  for (const Shape& x_shape : {Shape{3, 37, 19}, Shape{257, 300}}) {
    const std::string what = shape_str(x_shape);
    EXPECT_LE(linear_error(x_shape, 129, DType::F32, true, false, DType::F32), 1e-5) << what;
    EXPECT_LE(linear_error(x_shape, 129, DType::F32, false, false, DType::F32), 1e-5) << what;
  }
}

TEST(CudaLinear, MixedDtypesRunInTheWeightsDtype) {
  REQUIRE_GPU();
  Tensor x = testing::randn({5, 33});
  Tensor w = testing::randn({17, 33}, 0.2f);
  Tensor b = testing::randn({17});
  // f32 activation, bf16 weight: the activation is rounded to bf16 on the device.
  Operand wb = operand(w, DType::BF16);
  poison_next_output({5, 17}, DType::BF16);
  Tensor y = ops::linear(x.to(kGpu), wb.gpu, b.to(kGpu));
  EXPECT_EQ(y.dtype(), DType::BF16);
  Tensor ref =
      ops::cpu::linear(x.to(DType::BF16).to(DType::F32), wb.cpu, b.to(DType::BF16).to(DType::F32));
  EXPECT_LE(testing::rel_l2(to_host_f32(y), ref), 1e-2);
  // bf16 activation, f32 weight (the fp32 time MLP): exact conversion, fp32 math.
  Operand xb = operand(x, DType::BF16);
  poison_next_output({5, 17}, DType::F32);
  y = ops::linear(xb.gpu, w.to(kGpu), b.to(kGpu));
  EXPECT_EQ(y.dtype(), DType::F32);
  EXPECT_LE(testing::rel_l2(to_host_f32(y), ops::cpu::linear(xb.cpu, w, b)), 1e-5);
}

TEST(CudaLinear, SingleRowProductsWork) {
  REQUIRE_GPU();
  // The time MLP (fp32, 256 -> 1536) and time_proj (bf16, 1536 -> 6·1536) run on one row.
  EXPECT_LE(linear_error({1, 256}, 1536, DType::F32, true, false, DType::F32), 1e-5);
  EXPECT_LE(linear_error({1, 1536}, 9216, DType::BF16, true, false, DType::BF16), 1e-2);
  EXPECT_LE(linear_error({1, 1, 40}, 24, DType::BF16, true, true, DType::BF16), 1e-2);
}

TEST(CudaLinearGelu, Bf16MatchesTheCpuTwinAtOddSizes) {
  REQUIRE_GPU();
  for (const Shape& x_shape : {Shape{3, 37, 19}, Shape{2, 65, 72}}) {
    for (bool bias : {true, false}) {
      EXPECT_LE(linear_error(x_shape, 45, DType::BF16, bias, true, DType::BF16), 1e-2)
          << shape_str(x_shape) << (bias ? " with bias" : " without bias");
    }
  }
  // The GEMM is exact fp32; the epilogue's tanh may be the hardware approximation.
  EXPECT_LE(linear_error({3, 37, 19}, 45, DType::F32, true, true, DType::F32), 1e-3) << "f32";
}

TEST(CudaMatmul, MatchesTheCpuTwinForBothLayouts) {
  REQUIRE_GPU();
  for (DType dtype : {DType::BF16, DType::F32}) {
    for (bool transpose_b : {false, true}) {
      Operand a = operand(testing::randn({37, 19}), dtype);
      Operand b = operand(transpose_b ? testing::randn({23, 19}) : testing::randn({19, 23}), dtype);
      poison_next_output({37, 23}, dtype);
      Tensor c = ops::matmul(a.gpu, b.gpu, transpose_b);
      EXPECT_EQ(c.dtype(), dtype);
      EXPECT_LE(testing::rel_l2(to_host_f32(c), ops::cpu::matmul(a.cpu, b.cpu, transpose_b)),
                dtype == DType::F32 ? 1e-5 : 1e-2)
          << dtype_name(dtype) << (transpose_b ? " A·Bᵀ" : " A·B");
    }
  }
}

// The Wan2.1-1.3B block GEMMs (D = 1536, F = 8960) on 1000 tokens. The CPU twin checks the first
// and last 128 rows, which include the partial tiles at the edge.
TEST(CudaLinear, DitShapesMatchTheCpuTwin) {
  REQUIRE_GPU();
  struct Case {
    int64_t in, out;
    bool gelu;
    DType dtype;
    double bound;
  };
  for (const Case& c :
       {Case{1536, 1536, false, DType::BF16, 1e-2}, Case{1536, 8960, true, DType::BF16, 1e-2},
        Case{8960, 1536, false, DType::BF16, 1e-2}, Case{1536, 1536, false, DType::F32, 1e-5}}) {
    const int64_t rows = 1000;
    Operand x = operand(testing::randn({1, rows, c.in}), c.dtype);
    Operand w =
        operand(testing::randn({c.out, c.in}, float(1.0 / std::sqrt(double(c.in)))), c.dtype);
    Operand b = operand(testing::randn({c.out}, 0.5f), c.dtype);
    poison_next_output({1, rows, c.out}, c.dtype);
    Tensor y = c.gelu ? ops::linear_gelu(x.gpu, w.gpu, b.gpu) : ops::linear(x.gpu, w.gpu, b.gpu);
    Tensor y_host = to_host_f32(y);
    for (int64_t start : {int64_t(0), rows - 128}) {
      Tensor xs = x.cpu.slice(1, start, start + 128);
      Tensor ref =
          c.gelu ? ops::cpu::linear_gelu(xs, w.cpu, b.cpu) : ops::cpu::linear(xs, w.cpu, b.cpu);
      EXPECT_LE(testing::rel_l2(y_host.slice(1, start, start + 128).contiguous(), ref), c.bound)
          << rows << "x" << c.out << "x" << c.in << (c.gelu ? " gelu " : " ") << dtype_name(c.dtype)
          << ", rows from " << start;
    }
  }
}

}  // namespace
}  // namespace fastvideo
