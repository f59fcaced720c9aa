// The op-coverage table (STYLE: ggml's test-backend-ops): every CUDA op against its CPU twin in
// src/ops/cpu, one row per op, variant and dtype. op_coverage_test.cpp runs each row: fresh random
// inputs, the CPU twin in f32 on the values the GPU holds, the GPU op into NaN-poisoned memory, and
// rel_l2(GPU, CPU) ≤ the row's bound (DESIGN §3), any NaN failing. Adding an op is adding rows to
// op_cases.cpp.
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace fastvideo::testing {

// One input of a case: fresh N(mean, stddev²) values, stored on the GPU as `dtype`. The CPU twin
// gets the same values rounded to `cpu_sees` (default `dtype`), as f32: `cpu_sees` differs from
// `dtype` only where the GPU op converts that input before it computes (a bias added in the output
// dtype, an activation run in the weight's dtype).
struct Operand {
  Shape shape;
  DType dtype = DType::BF16;
  float stddev = 1.0f;
  float mean = 0.0f;
  std::optional<DType> cpu_sees = {};
};

using OpInputs = std::span<const Tensor>;
using OpFn = std::function<Tensor(OpInputs)>;

struct OpCase {
  std::string name;  // <op>_<dtype>_<variant>: the gtest name, so a failure says what broke
  std::vector<Operand> operands;
  // The op under test, called with the inputs on one device: ops dispatch on the device, so the
  // same call runs the CPU twin and the CUDA kernel. Views (slices, transposes) taken here are
  // taken on both devices.
  OpFn op;
  double bound = 0.0;             // rel_l2(GPU, CPU) at most this; 0: bit-exact
  std::optional<DType> out = {};  // the GPU result's dtype; default the first operand's dtype
  OpFn gpu_op = {};               // the GPU side, where it is not `op` (a kernel called directly)
  int runs = 1;                   // runs with fresh inputs each (a cached plan must stay right)
};

// Every row, in op-family order. Safe to call during static initialisation (gtest does).
std::vector<OpCase> op_cases();

inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

}  // namespace fastvideo::testing
