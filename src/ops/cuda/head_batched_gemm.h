// Batched GEMMs through cuBLASLt over strided operands, as attention uses them: one problem per
// head (or batch item), each operand `batch_stride` elements after the previous one. Column-major,
// fp32 accumulation whatever the operand dtypes (F32 operands: full fp32 math, no TF32).
#pragma once

#include <cstdint>

#include "core/cuda/cuda_context.h"
#include "core/dtype.h"
#include "core/tensor.h"

namespace fastvideo::ops::cuda {

// A column-major matrix operand: `rows`×`cols` as stored, leading dimension `ld`, and `batch`
// copies `batch_stride` elements apart (all in elements).
struct Operand {
  const void* data;
  DType dtype;
  int64_t rows, cols, ld, batch_stride;
};

// The address `elements` elements into t's data: where an operand starts inside a tensor.
inline const char* operand_at(const Tensor& t, int64_t elements) {
  return static_cast<const char*>(t.raw_data()) + elements * int64_t(dtype_size(t.dtype()));
}

// C = alpha·op(A)·B for `batch` independent problems (op(A) = Aᵀ when trans_a), on ctx's stream.
// A and B share a dtype; C may differ (BF16 operands into an F32 C).
void batched_gemm(CudaContext& ctx, bool trans_a, const Operand& a, const Operand& b,
                  const Operand& c, float alpha, int batch);

}  // namespace fastvideo::ops::cuda
