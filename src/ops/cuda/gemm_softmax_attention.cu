// The general attention path (attention_backend.h): per batch and chunk of query rows, one
// head-batched cuBLASLt GEMM for the scores S = scale·Q·Kᵀ (fp32), a row softmax kernel that adds
// the bias, then one head-batched GEMM O = P·V. It is the math of the CPU twin
// (src/ops/cpu/attention.cpp) on the GPU: what cuDNN's flash kernel does not take runs here.
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/attention_backend.h"

namespace fastvideo::ops::cuda {

namespace {

// Scores (fp32) plus probabilities (input dtype) of one chunk stay under this.
constexpr int64_t kScoreBudgetBytes = int64_t(512) << 20;
constexpr int kSoftmaxThreads = 256;

// ---- Row softmax -------------------------------------------------------------------------------

// Running max and sum of exp(x - max) over part of a row.
struct RowStats {
  float max, sum;
};

__device__ RowStats merge(RowStats a, RowStats b) {
  const float m = fmaxf(a.max, b.max);
  if (m == -INFINITY) return {m, 0.0f};
  return {m, a.sum * expf(a.max - m) + b.sum * expf(b.max - m)};
}

template <class T>
__device__ void store(T* p, float v);
template <>
__device__ void store<float>(float* p, float v) {
  *p = v;
}
template <>
__device__ void store<__nv_bfloat16>(__nv_bfloat16* p, float v) {
  *p = __float2bfloat16_rn(v);
}
template <>
__device__ void store<__half>(__half* p, float v) {
  *p = __float2half_rn(v);
}

// One block per score row (row = h·rows + r of the chunk starting at query q0; rows `ld` elements
// apart): adds the bias row bias[h, q0 + r, :] if any, then writes the softmax (computed in fp32)
// to `probs` (which may be `scores` itself for fp32: each element is read before the same thread
// overwrites it).
template <class T>
__global__ void softmax_rows_kernel(const float* scores, const float* bias, T* probs, int64_t Sk,
                                    int64_t ld, int64_t rows, int64_t Sq, int64_t q0) {
  const int64_t row = blockIdx.x;
  const float* s = scores + row * ld;
  const float* b = bias ? bias + ((row / rows) * Sq + q0 + row % rows) * Sk : nullptr;

  RowStats part{-INFINITY, 0.0f};
  for (int64_t j = threadIdx.x; j < Sk; j += kSoftmaxThreads) {
    const float x = s[j] + (b ? b[j] : 0.0f);
    if (x > part.max) {
      part.sum = part.sum * expf(part.max - x) + 1.0f;
      part.max = x;
    } else if (part.max != -INFINITY) {
      part.sum += expf(x - part.max);  // NaN inputs propagate from here
    }
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    const RowStats other{__shfl_xor_sync(0xffffffffu, part.max, offset),
                         __shfl_xor_sync(0xffffffffu, part.sum, offset)};
    part = merge(part, other);
  }
  __shared__ RowStats warps[kSoftmaxThreads / 32];
  __shared__ RowStats total;
  if (threadIdx.x % 32 == 0) warps[threadIdx.x / 32] = part;
  __syncthreads();
  if (threadIdx.x == 0) {
    RowStats t = warps[0];
    for (int w = 1; w < kSoftmaxThreads / 32; ++w) t = merge(t, warps[w]);
    total = t;
  }
  __syncthreads();
  const float max = total.max, inv_sum = 1.0f / total.sum;
  T* p = probs + row * ld;
  for (int64_t j = threadIdx.x; j < Sk; j += kSoftmaxThreads) {
    const float x = s[j] + (b ? b[j] : 0.0f);
    store(p + j, expf(x - max) * inv_sum);
  }
}

void launch_softmax_rows(const float* scores, const float* bias, void* probs, DType probs_dtype,
                         int64_t score_rows, int64_t Sk, int64_t ld, int64_t rows, int64_t Sq,
                         int64_t q0, cudaStream_t stream) {
  const dim3 grid{static_cast<unsigned>(score_rows)}, block{kSoftmaxThreads};
  switch (probs_dtype) {
    case DType::F32:
      softmax_rows_kernel<<<grid, block, 0, stream>>>(scores, bias, static_cast<float*>(probs), Sk,
                                                      ld, rows, Sq, q0);
      break;
    case DType::BF16:
      softmax_rows_kernel<<<grid, block, 0, stream>>>(
          scores, bias, static_cast<__nv_bfloat16*>(probs), Sk, ld, rows, Sq, q0);
      break;
    default:
      softmax_rows_kernel<<<grid, block, 0, stream>>>(scores, bias, static_cast<__half*>(probs), Sk,
                                                      ld, rows, Sq, q0);
      break;
  }
  FV_CUDA_CHECK_LAUNCH();
}

// ---- Head-batched GEMM through cuBLASLt --------------------------------------------------------

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

// A column-major matrix operand: `rows`×`cols` as stored, leading dimension `ld`, and `batch`
// copies `batch_stride` elements apart (all in elements).
struct Operand {
  const void* data;
  DType dtype;
  int64_t rows, cols, ld, batch_stride;
};

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

// C = alpha·op(A)·B for `batch` independent problems (column-major; op(A) = Aᵀ when trans_a),
// fp32 accumulation whatever the operand dtypes.
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

const char* at(const Tensor& t, int64_t elements) {
  return static_cast<const char*>(t.raw_data()) + elements * int64_t(dtype_size(t.dtype()));
}

// GEMMs read rows through strides but need unit stride along the head dim and rows at least a
// head dim apart (a size-1 dim of a view can carry any stride).
Tensor with_gemm_layout(const Tensor& t) {
  const bool ok = (t.strides()[3] == 1 || t.size(3) == 1) && t.strides()[1] >= t.size(3);
  return ok ? t : t.contiguous();
}

}  // namespace

void gemm_softmax_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                            const Tensor& bias, const Tensor& out) {
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t Sk = k.size(1), Dv = v.size(3);
  const DType dt = q.dtype();
  FV_CHECK(dt == DType::F32 || dt == DType::BF16 || dt == DType::F16,
           "attention: expected F32, BF16 or F16 inputs, got q ", q.describe());
  // K and V in q's dtype (the GEMMs take one operand dtype), bias as f32 rows.
  const Tensor qc = with_gemm_layout(q);
  const Tensor kc = with_gemm_layout(k.to(dt));
  const Tensor vc = with_gemm_layout(v.to(dt));
  const Tensor bc = bias.defined() ? bias.to(DType::F32).contiguous() : Tensor();
  CudaContext& ctx = use_cuda_device(q.device().index);

  // Score rows padded to 8 elements keep every row and head 16-byte aligned for the GEMMs.
  const int64_t ld = (Sk + 7) / 8 * 8;
  const int64_t prob_bytes = dt == DType::F32 ? 0 : int64_t(dtype_size(dt));
  const int64_t row_bytes = H * ld * (4 + prob_bytes);
  const int64_t chunk = std::clamp<int64_t>(kScoreBudgetBytes / row_bytes, 1, Sq);
  Tensor scores = Tensor::empty({H * chunk * ld}, DType::F32, q.device());
  // fp32 probabilities overwrite their scores; BF16/F16 ones feed the second GEMM in that dtype,
  // as flash attention's P·V does.
  Tensor probs = dt == DType::F32 ? scores : Tensor::empty({H * chunk * ld}, dt, q.device());

  const auto& qs = qc.strides();
  const auto& ks = kc.strides();
  const auto& vs = vc.strides();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t q0 = 0; q0 < Sq; q0 += chunk) {
      const int64_t rows = std::min(chunk, Sq - q0);
      // Row-major S[h] (rows×Sk) = Q[h]·K[h]ᵀ is column-major Sᵀ = K[h]·Q[h]ᵀ: A = K[h] stored
      // D×Sk (transposed), B = Q[h] stored D×rows, heads `D` elements apart.
      const Operand k_op{at(kc, b * ks[0]), dt, D, Sk, ks[1], ks[2]};
      const Operand q_op{at(qc, b * qs[0] + q0 * qs[1]), dt, D, rows, qs[1], qs[2]};
      const Operand s_op{scores.raw_data(), DType::F32, Sk, rows, ld, rows * ld};
      batched_gemm(ctx, true, k_op, q_op, s_op, scale, int(H));

      launch_softmax_rows(static_cast<const float*>(scores.raw_data()),
                          bc.defined() ? static_cast<const float*>(bc.raw_data()) : nullptr,
                          probs.raw_data(), dt, H * rows, Sk, ld, rows, Sq, q0, ctx.stream());

      // Row-major O[h] (rows×Dv) = P[h]·V[h] is column-major Oᵀ = V[h]ᵀ·P[h]ᵀ: A = V[h] stored
      // Dv×Sk, B = P[h] stored Sk×rows, C = the output rows with leading dimension H·Dv.
      const Operand v_op{at(vc, b * vs[0]), dt, Dv, Sk, vs[1], vs[2]};
      const Operand p_op{probs.raw_data(), dt, Sk, rows, ld, rows * ld};
      const Operand o_op{at(out, (b * Sq + q0) * H * Dv), dt, Dv, rows, H * Dv, Dv};
      batched_gemm(ctx, false, v_op, p_op, o_op, 1.0f, int(H));
    }
  }
}

}  // namespace fastvideo::ops::cuda
