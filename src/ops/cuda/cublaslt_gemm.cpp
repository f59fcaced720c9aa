#include "ops/cuda/cublaslt_gemm.h"

#include <cublasLt.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "fastvideo/log.h"
#include "ops/cuda/bias_activation.h"
#include "ops/fp8_linear.h"
#include "ops/gemm_autotune.h"

namespace fastvideo::ops::cuda_detail {

namespace {

// Row-major to cuBLASLt's column-major. A row-major [r, c] matrix with leading dimension c is,
// byte for byte, the column-major [c, r] matrix: its transpose. So the row-major product
//   D[m, n] = A[m, k] · op(B)
// is computed as its transpose, Dᵀ[n, m] = op(B)ᵀ · Aᵀ, which is column-major D with ld = n:
//   cuBLASLt A := our B.  transpose_b (B is [n, k], nn.Linear's weight): memory holds Bᵀ [k, n],
//                         ld = k, opA = T gives B [n, k] = op(B)ᵀ.
//                         otherwise (B is [k, n]): memory holds Bᵀ [n, k], ld = n, opA = N.
//   cuBLASLt B := our A.  memory holds Aᵀ [k, m], ld = k, opB = N.
//   cuBLASLt D (and C):   [n, m], ld = n.
// cuBLASLt's m, n, k are our n, m, k. Its BIAS epilogue adds a vector over D's rows, which are
// our columns: bias [n], broadcast over our m rows, as nn.Linear does.

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return CUDA_R_32F;
    case DType::BF16:
      return CUDA_R_16BF;
    case DType::F16:
      return CUDA_R_16F;
    case DType::F8E4M3:
      return CUDA_R_8F_E4M3;
    default:
      fail("cuBLASLt GEMM: dtype ", dtype_name(dtype),
           " is not supported (F32, BF16, F16, F8_E4M3)");
  }
}

// The largest power of two (≤ 256, cuBLASLt's default assumption) that divides the address.
uint32_t alignment(const void* p) {
  const auto v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 1 && v % a != 0) a /= 2;
  return a;
}

struct PlanKey {
  int device;
  int64_t m, n, k;
  bool transpose_b;
  DType dtype;          // d's (and bias's)
  DType operand_dtype;  // a's and b's: d's, or F8E4M3 with fp8_scales
  bool block_scales;    // FP8 with 128-wide scales (GemmScales::blocks)
  bool bias;
  GemmActivation activation;
  uint32_t align_a, align_b, align_d, align_bias;
  bool autotune;  // ops/gemm_autotune.h: the fastest of the heuristic's candidates, timed
  auto operator<=>(const PlanKey&) const = default;
};

// Candidates an autotuned plan times (cuBLASLt's heuristic ranks them; its first is the default).
constexpr int kAutotuneCandidates = 8;

cublasLtEpilogue_t epilogue_of(bool bias, GemmActivation activation) {
  const bool gelu = activation == GemmActivation::GeluTanh;
  if (bias) return gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
  return gelu ? CUBLASLT_EPILOGUE_GELU : CUBLASLT_EPILOGUE_DEFAULT;
}

template <class T>
void set_attribute(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, const T& value) {
  FV_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, attr, &value, sizeof(value)));
}

// Descriptors and the chosen algorithm for one PlanKey. Owned by the plan cache for the process.
class Plan {
 public:
  Plan(const PlanKey& key, const void* bias, const GemmScales* fp8_scales, cublasLtHandle_t handle,
       size_t workspace_bytes)
      : key_(key) {
    const cudaDataType_t type = cuda_type(key.operand_dtype), d_type = cuda_type(key.dtype);
    const bool fp8 = key.operand_dtype == DType::F8E4M3;
    // FP8: one scale per row of each operand as outer vectors in the GEMM, where cuBLASLt has an
    // algorithm for that (Hopper has, with the scale pointers set before the heuristic is asked).
    create_desc(fp8 ? fp8_scales : nullptr);
    const uint64_t b_rows = key.transpose_b ? key.k : key.n;
    const uint64_t b_cols = key.transpose_b ? key.n : key.k;
    FV_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lt_a_, type, b_rows, b_cols, int64_t(b_rows)));
    FV_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lt_b_, type, key.k, key.m, key.k));
    FV_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lt_d_, d_type, key.n, key.m, key.n));

    const cublasLtEpilogue_t fused = epilogue_of(key.bias, key.activation);
    fused_ = try_plan(fused, bias, handle, workspace_bytes);
    bool planned = fused_;
    if (!planned && fused != CUBLASLT_EPILOGUE_DEFAULT) {
      // Without the bias attributes: an FP8 GEMM given them unused fails at run time (measured).
      create_desc(fp8 ? fp8_scales : nullptr);
      planned = try_plan(CUBLASLT_EPILOGUE_DEFAULT, nullptr, handle, workspace_bytes);
    }
    if (!planned && key.block_scales) {
      fail("cuBLASLt has no GEMM algorithm with 128-wide FP8 scales for ", describe());
    }
    if (!planned && fp8) {
      // A plain FP8 GEMM (unit scales); the row and column scales, bias and activation after it.
      create_desc(nullptr);
      scales_in_gemm_ = false;
      planned = try_plan(CUBLASLT_EPILOGUE_DEFAULT, nullptr, handle, workspace_bytes);
    }
    if (!planned) fail("cuBLASLt has no GEMM algorithm for ", describe());
    if (!fused_) {
      log::debug("cuBLASLt: no fused epilogue for ", describe(), "; ",
                 scales_in_gemm_ ? "bias and activation" : "row scales, bias and activation",
                 " run as a separate kernel");
    }
  }

  ~Plan() {
    if (lt_d_) cublasLtMatrixLayoutDestroy(lt_d_);
    if (lt_b_) cublasLtMatrixLayoutDestroy(lt_b_);
    if (lt_a_) cublasLtMatrixLayoutDestroy(lt_a_);
    if (desc_) cublasLtMatmulDescDestroy(desc_);
  }
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // Callers hold the cache's mutex: the bias pointer lives in the shared descriptor.
  void run(const Tensor& d, const Tensor& a, const Tensor& b, const Tensor& bias,
           const GemmScales* fp8_scales, cublasLtHandle_t handle, void* workspace,
           size_t workspace_bytes, cudaStream_t stream) {
    if (fused_ && bias.defined()) {
      set_attribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias.raw_data());
    }
    if (fp8_scales && scales_in_gemm_) set_scale_pointers(*fp8_scales);
    const auto matmul = [&](const cublasLtMatmulAlgo_t& algo) {
      const float alpha = 1.0f, beta = 0.0f;  // beta 0: running it again gives the same d
      return cublasLtMatmul(handle, desc_, &alpha, b.raw_data(), lt_a_, a.raw_data(), lt_b_, &beta,
                            d.raw_data(), lt_d_, d.raw_data(), lt_d_, &algo, workspace,
                            workspace_bytes, stream);
    };
    if (candidates_.size() > 1) tune(matmul, stream);
    FV_CUBLAS_CHECK(matmul(algo_));
    const bool gelu = key_.activation == GemmActivation::GeluTanh;
    if (fp8_scales && !scales_in_gemm_) {
      scale_bias_activation_inplace(d, fp8_scales->a, fp8_scales->b, bias, gelu, stream);
    } else if (!fused_ && (bias.defined() || gelu)) {
      bias_activation_inplace(d, bias, gelu, stream);
    }
  }

 private:
  // Sets the epilogue and asks the heuristic for its best algorithm; false if there is none.
  bool try_plan(cublasLtEpilogue_t epilogue, const void* bias, cublasLtHandle_t handle,
                size_t workspace_bytes) {
    set_attribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue);
    if (bias) {
      // The heuristic reads the bias pointer only for its alignment.
      set_attribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, int32_t(cuda_type(key_.dtype)));
      set_attribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
    }
    cublasLtMatmulPreference_t pref = nullptr;
    FV_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, decltype(&cublasLtMatmulPreferenceDestroy)>
        owner(pref, cublasLtMatmulPreferenceDestroy);
    auto set_pref = [&](cublasLtMatmulPreferenceAttributes_t attr, const auto& value) {
      FV_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, attr, &value, sizeof(value)));
    };
    set_pref(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t(workspace_bytes));
    // cuBLASLt's A is our B and its B our A (see the mapping above); C is D.
    set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key_.align_b);
    set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key_.align_a);
    set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key_.align_d);
    set_pref(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key_.align_d);
    cublasLtMatmulHeuristicResult_t results[kAutotuneCandidates] = {};
    int count = 0;
    const cublasStatus_t status =
        cublasLtMatmulAlgoGetHeuristic(handle, desc_, lt_a_, lt_b_, lt_d_, lt_d_, pref,
                                       key_.autotune ? kAutotuneCandidates : 1, results, &count);
    if (status != CUBLAS_STATUS_SUCCESS || count == 0 ||
        results[0].state != CUBLAS_STATUS_SUCCESS) {
      return false;
    }
    algo_ = results[0].algo;
    candidates_.clear();
    for (int i = 0; i < count; ++i) {
      if (results[i].state == CUBLAS_STATUS_SUCCESS) candidates_.push_back(results[i].algo);
    }
    return true;
  }

  // Autotuning (ops/gemm_autotune.h), on the first run outside a graph capture: each candidate
  // once untimed, then kRuns times between events; the fastest becomes algo_. A candidate that
  // fails to run is passed over. Waits for the device (first for the work queued before, which
  // is not counted). Callers hold the plan cache's lock, so other threads' GEMMs wait meanwhile:
  // autotuning is for one thread per device (WanTransformer::set_gemm_autotune).
  template <class Matmul>
  void tune(const Matmul& matmul, cudaStream_t stream) {
    constexpr int kRuns = 5;
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    FV_CUDA_CHECK(cudaStreamIsCapturing(stream, &capturing));
    if (capturing != cudaStreamCaptureStatusNone) return;
    FV_CUDA_CHECK(cudaStreamSynchronize(stream));
    const auto t0 = std::chrono::steady_clock::now();
    cudaEvent_t start = nullptr, stop = nullptr;
    FV_CUDA_CHECK(cudaEventCreate(&start));
    FV_CUDA_CHECK(cudaEventCreate(&stop));
    float best_ms = 0, first_ms = 0;
    size_t best = 0;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      if (matmul(candidates_[i]) != CUBLAS_STATUS_SUCCESS) {
        (void)cudaGetLastError();  // a refused launch leaves nothing for a later check to find
        continue;
      }
      FV_CUDA_CHECK(cudaEventRecord(start, stream));
      bool ran = true;
      for (int r = 0; r < kRuns && ran; ++r) ran = matmul(candidates_[i]) == CUBLAS_STATUS_SUCCESS;
      FV_CUDA_CHECK(cudaEventRecord(stop, stream));
      FV_CUDA_CHECK(cudaEventSynchronize(stop));
      float ms = 0;
      FV_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
      if (!ran) {
        (void)cudaGetLastError();
        continue;
      }
      if (i == 0) first_ms = ms;
      if (best_ms == 0 || ms < best_ms) {
        best_ms = ms;
        best = i;
      }
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    if (best_ms > 0) algo_ = candidates_[best];
    log::debug("cuBLASLt autotune ", describe(), ": candidate ", best, " of ", candidates_.size(),
               ", ", best_ms / kRuns, " ms against the heuristic's first ", first_ms / kRuns,
               " ms");
    candidates_.clear();
    record_gemm_autotune(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }

  // A fresh descriptor: our layout's transposes and, with fp8_scales, their scale modes (outer
  // vectors, or 128-wide groups and 128×128 blocks; cuBLASLt's A is our b, its B our a) and
  // pointers, which each run then replaces.
  void create_desc(const GemmScales* fp8_scales) {
    if (desc_) cublasLtMatmulDescDestroy(desc_);
    desc_ = nullptr;
    // CUBLAS_COMPUTE_32F: fp32 accumulation for 16-bit and 8-bit inputs and true fp32 (not TF32)
    // for F32.
    FV_CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    set_attribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, key_.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N);
    set_attribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
    if (fp8_scales) {
      // cuBLASLt's A is our weight b: 128×128 blocks; its B our a: 128-wide groups per row.
      const bool blocks = fp8_scales->blocks;
      set_attribute(desc_, CUBLASLT_MATMUL_DESC_A_SCALE_MODE,
                    int32_t(blocks ? CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F
                                   : CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F));
      set_attribute(desc_, CUBLASLT_MATMUL_DESC_B_SCALE_MODE,
                    int32_t(blocks ? CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F
                                   : CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F));
      set_scale_pointers(*fp8_scales);
    }
  }

  void set_scale_pointers(const GemmScales& fp8_scales) {
    set_attribute(desc_, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER,
                  static_cast<const void*>(fp8_scales.b.raw_data()));
    set_attribute(desc_, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
                  static_cast<const void*>(fp8_scales.a.raw_data()));
  }

  std::string describe() const {
    return str_cat("[", key_.m, ",", key_.k, "]·[", key_.transpose_b ? key_.n : key_.k, ",",
                   key_.transpose_b ? key_.k : key_.n, "]", key_.transpose_b ? "ᵀ" : "", " ",
                   dtype_name(key_.operand_dtype), key_.block_scales ? " (128-wide scales)" : "",
                   " -> ", dtype_name(key_.dtype), key_.bias ? " +bias" : "",
                   key_.activation == GemmActivation::GeluTanh ? " gelu" : "", " (alignments ",
                   key_.align_a, "/", key_.align_b, "/", key_.align_d, " bytes)");
  }

  PlanKey key_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t lt_a_ = nullptr, lt_b_ = nullptr, lt_d_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  std::vector<cublasLtMatmulAlgo_t> candidates_;  // autotune: still to be timed (more than one)
  bool fused_ = false;
  bool scales_in_gemm_ = true;  // FP8: outer-vector scales in cuBLASLt, else a kernel after it
};

struct PlanCache {
  std::mutex mu;
  std::map<PlanKey, std::unique_ptr<Plan>> plans;
};

// Never destroyed, like CudaContext: nothing cuBLASLt-owned is released after the driver is gone.
PlanCache& plan_cache() {
  static auto* cache = new PlanCache();
  return *cache;
}

PlanKey key_of(const Tensor& d, const Tensor& a, const Tensor& b, bool transpose_b,
               const Tensor& bias, GemmActivation activation, const GemmScales* fp8_scales) {
  const DType dtype = d.dtype(), operand_dtype = fp8_scales ? DType::F8E4M3 : dtype;
  const Device device = d.device();
  FV_CHECK(!device.is_cpu(), "cuBLASLt GEMM: output ", d.describe(), " is not on a GPU");
  FV_CHECK(a.ndim() == 2 && b.ndim() == 2 && d.ndim() == 2,
           "cuBLASLt GEMM: expected 2-D a, b, d; got ", a.describe(), ", ", b.describe(), ", ",
           d.describe());
  const int64_t m = a.size(0), k = a.size(1);
  const int64_t n = transpose_b ? b.size(0) : b.size(1);
  FV_CHECK((transpose_b ? b.size(1) : b.size(0)) == k && d.size(0) == m && d.size(1) == n,
           "cuBLASLt GEMM: shapes do not match: a ", a.describe(), ", b ", b.describe(),
           transpose_b ? " (transposed)" : "", ", d ", d.describe());
  for (const Tensor* t : {&a, &b, &d}) {
    const DType want = t == &d ? dtype : operand_dtype;
    FV_CHECK(t->dtype() == want && t->device() == device && t->is_contiguous(),
             "cuBLASLt GEMM: operand ", t->describe(), " must be contiguous ", dtype_name(want),
             " on ", device.name());
  }
  if (fp8_scales) {
    FV_CHECK(dtype == DType::BF16 && transpose_b && k % 16 == 0,
             "cuBLASLt FP8 GEMM: d must be BF16, b transposed and k a multiple of 16; got d ",
             d.describe(), ", k ", k);
    const bool blocks = fp8_scales->blocks;
    FV_CHECK(!blocks || (n % 128 == 0 && k % 128 == 0),
             "cuBLASLt FP8 GEMM with 128-wide scales: n ", n, " and k ", k,
             " must be multiples of 128");
    const Shape a_shape = blocks ? Shape({k / 128, m}) : Shape({m});
    const Shape b_shape = blocks ? Shape({n / 128, fp8_block_scale_columns(k)}) : Shape({n});
    for (const auto& [scales, shape] :
         {std::pair{&fp8_scales->a, a_shape}, std::pair{&fp8_scales->b, b_shape}}) {
      FV_CHECK(scales->dtype() == DType::F32 && scales->device() == device &&
                   scales->is_contiguous() && scales->shape() == shape,
               "cuBLASLt FP8 GEMM: scales ", scales->describe(), " must be contiguous F32 ",
               shape_str(shape), " on ", device.name());
    }
  }
  if (bias.defined()) {
    FV_CHECK(bias.dtype() == dtype && bias.device() == device && bias.is_contiguous() &&
                 bias.numel() == n,
             "cuBLASLt GEMM: bias ", bias.describe(), " must be contiguous ", dtype_name(dtype),
             " [", n, "] on ", device.name());
  }
  return PlanKey{device.index,
                 m,
                 n,
                 k,
                 transpose_b,
                 dtype,
                 operand_dtype,
                 fp8_scales && fp8_scales->blocks,
                 bias.defined(),
                 activation,
                 alignment(a.raw_data()),
                 alignment(b.raw_data()),
                 alignment(d.raw_data()),
                 bias.defined() ? alignment(bias.raw_data()) : 0u,
                 gemm_autotune_active()};
}

}  // namespace

void cublaslt_gemm(const Tensor& d, const Tensor& a, const Tensor& b, bool transpose_b,
                   const Tensor& bias, GemmActivation activation, const GemmScales* fp8_scales) {
  const PlanKey key = key_of(d, a, b, transpose_b, bias, activation, fp8_scales);
  if (key.m == 0 || key.n == 0) return;
  CudaContext& ctx = use_cuda_device(key.device);
  if (key.k == 0) {
    // An empty sum: d = act(bias) or 0. cuBLASLt does not take k = 0.
    FV_CUDA_CHECK(cudaMemsetAsync(d.raw_data(), 0, d.nbytes(), ctx.stream()));
    bias_activation_inplace(d, bias, activation == GemmActivation::GeluTanh, ctx.stream());
    return;
  }
  size_t workspace_bytes = 0;
  void* workspace = ctx.gemm_workspace(&workspace_bytes);
  PlanCache& cache = plan_cache();
  std::lock_guard lock(cache.mu);
  auto& plan = cache.plans[key];
  if (!plan) {
    plan = std::make_unique<Plan>(key, bias.defined() ? bias.raw_data() : nullptr, fp8_scales,
                                  ctx.cublaslt(), workspace_bytes);
  }
  plan->run(d, a, b, bias, fp8_scales, ctx.cublaslt(), workspace, workspace_bytes, ctx.stream());
}

}  // namespace fastvideo::ops::cuda_detail
