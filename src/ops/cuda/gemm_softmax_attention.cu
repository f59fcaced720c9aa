// The general attention path (attention_backend.h): per batch and chunk of query rows, one
// head-batched cuBLASLt GEMM for the scores S = scale·Q·Kᵀ (fp32), a row softmax kernel that adds
// the bias, then one head-batched GEMM O = P·V. It is the math of the CPU twin
// (src/ops/cpu/attention.cpp) on the GPU: what cuDNN's flash kernel does not take runs here.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/attention_backend.h"
#include "ops/cuda/head_batched_gemm.h"

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
      const Operand k_op{operand_at(kc, b * ks[0]), dt, D, Sk, ks[1], ks[2]};
      const Operand q_op{operand_at(qc, b * qs[0] + q0 * qs[1]), dt, D, rows, qs[1], qs[2]};
      const Operand s_op{scores.raw_data(), DType::F32, Sk, rows, ld, rows * ld};
      batched_gemm(ctx, true, k_op, q_op, s_op, scale, int(H));

      launch_softmax_rows(static_cast<const float*>(scores.raw_data()),
                          bc.defined() ? static_cast<const float*>(bc.raw_data()) : nullptr,
                          probs.raw_data(), dt, H * rows, Sk, ld, rows, Sq, q0, ctx.stream());

      // Row-major O[h] (rows×Dv) = P[h]·V[h] is column-major Oᵀ = V[h]ᵀ·P[h]ᵀ: A = V[h] stored
      // Dv×Sk, B = P[h] stored Sk×rows, C = the output rows with leading dimension H·Dv.
      const Operand v_op{operand_at(vc, b * vs[0]), dt, Dv, Sk, vs[1], vs[2]};
      const Operand p_op{probs.raw_data(), dt, Sk, rows, ld, rows * ld};
      const Operand o_op{operand_at(out, (b * Sq + q0) * H * Dv), dt, Dv, rows, H * Dv, Dv};
      batched_gemm(ctx, false, v_op, p_op, o_op, 1.0f, int(H));
    }
  }
}

}  // namespace fastvideo::ops::cuda
