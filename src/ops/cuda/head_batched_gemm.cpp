// Head-batched GEMMs through cuBLASLt (head_batched_gemm.h).
#include "ops/cuda/head_batched_gemm.h"

#include <cublasLt.h>

#include <cstdint>

#include "core/cuda/cuda_check.h"

namespace fastvideo::ops::cuda {

namespace {

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F32:
      return CUDA_R_32F;
    case DType::BF16:
      return CUDA_R_16BF;
    case DType::F16:
      return CUDA_R_16F;
    default:
      fail("attention: no GEMM for dtype ", dtype_name(t));
  }
}

// The largest power of two (≤ 256) every batch's pointer is aligned to, for the heuristic.
uint32_t alignment_bytes(const Operand& m) {
  const uint64_t bits = reinterpret_cast<uintptr_t>(m.data) |
                        uint64_t(m.batch_stride) * dtype_size(m.dtype) | uint64_t(256);
  return uint32_t(bits & (~bits + 1));
}

class LayoutDesc {
 public:
  LayoutDesc(const Operand& m, int batch) {
    FV_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&desc_, cuda_type(m.dtype), uint64_t(m.rows),
                                               uint64_t(m.cols), m.ld));
    FV_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(desc_, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                                                     &batch, sizeof(batch)));
    FV_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(
        desc_, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &m.batch_stride, sizeof(int64_t)));
  }
  ~LayoutDesc() { cublasLtMatrixLayoutDestroy(desc_); }
  LayoutDesc(const LayoutDesc&) = delete;
  LayoutDesc& operator=(const LayoutDesc&) = delete;
  cublasLtMatrixLayout_t get() const { return desc_; }

 private:
  cublasLtMatrixLayout_t desc_ = nullptr;
};

}  // namespace

void batched_gemm(CudaContext& ctx, bool trans_a, const Operand& a, const Operand& b,
                  const Operand& c, float alpha, int batch) {
  cublasLtMatmulDesc_t op = nullptr;
  FV_CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  struct OpGuard {
    cublasLtMatmulDesc_t d;
    ~OpGuard() { cublasLtMatmulDescDestroy(d); }
  } op_guard{op};
  const cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  FV_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  const LayoutDesc la(a, batch), lb(b, batch), lc(c, batch);

  size_t workspace_bytes = 0;
  void* workspace = ctx.gemm_workspace(&workspace_bytes);
  cublasLtMatmulPreference_t pref = nullptr;
  FV_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  struct PrefGuard {
    cublasLtMatmulPreference_t p;
    ~PrefGuard() { cublasLtMatmulPreferenceDestroy(p); }
  } pref_guard{pref};
  FV_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes, sizeof(workspace_bytes)));
  const uint32_t align_a = alignment_bytes(a), align_b = alignment_bytes(b),
                 align_c = alignment_bytes(c);
  FV_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_a, sizeof(align_a)));
  FV_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_b, sizeof(align_b)));
  FV_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof(align_c)));
  FV_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_c, sizeof(align_c)));

  cublasLtMatmulHeuristicResult_t heuristic{};
  int found = 0;
  FV_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(ctx.cublaslt(), op, la.get(), lb.get(), lc.get(),
                                                 lc.get(), pref, 1, &heuristic, &found));
  FV_CHECK(found > 0, "attention: cuBLASLt has no algorithm for a ", batch, "x ",
           trans_a ? a.cols : a.rows, "x", b.cols, "x", trans_a ? a.rows : a.cols, " GEMM (",
           dtype_name(a.dtype), " -> ", dtype_name(c.dtype), ")");
  const float beta = 0.0f;
  void* c_data = const_cast<void*>(c.data);
  FV_CUBLAS_CHECK(cublasLtMatmul(ctx.cublaslt(), op, &alpha, a.data, la.get(), b.data, lb.get(),
                                 &beta, c_data, lc.get(), c_data, lc.get(), &heuristic.algo,
                                 workspace, workspace_bytes, ctx.stream()));
}

}  // namespace fastvideo::ops::cuda
