#include "ops/sage_attention.h"

#include "fastvideo/error.h"
#include "ops/dispatch.h"

namespace fastvideo {

int64_t sage_query_scale_index(int64_t row) {
  const int64_t in_block = row % kSageQueryBlock;
  return row / kSageQueryBlock * kSageQueryScalesPerBlock + in_block / 16 * 8 + in_block % 8;
}

int64_t sage_key_scale_index(int64_t key) {
  return key / kSageKeyBlock * kSageKeyScalesPerBlock + key % 8 / 2;
}

int64_t sage_query_scale_count(int64_t rows) {
  return (rows + kSageQueryBlock - 1) / kSageQueryBlock * kSageQueryScalesPerBlock;
}

int64_t sage_key_scale_count(int64_t keys) {
  return (keys + kSageKeyBlock - 1) / kSageKeyBlock * kSageKeyScalesPerBlock;
}

float sage_q_multiplier(float softmax_scale) {
  return softmax_scale * 1.4426950408889634f;  // log2 e
}

SageKernel sage_kernel_for(int major, int minor, SageKernel wanted, std::string_view gpu) {
  const int sm = 10 * major + minor;
  FV_CHECK(sm >= 80, "SAGE_ATTN on CUDA needs compute capability 8.0 or newer (INT8 and FP16 ",
           "mma.sync); ", gpu, " is sm_", sm);
  FV_CHECK(major < 10, "SAGE_ATTN on CUDA runs on sm_80 .. sm_90 in this version; ", gpu, " is sm_",
           sm, " (the Hopper kernel is sm_90a code, which newer GPUs cannot run, and ",
           "the portable kernel has not been run there)");
  FV_CHECK(major == 8 || sm == 90, "SAGE_ATTN on CUDA does not know ", gpu, " (sm_", sm, ")");
  switch (wanted) {
    case SageKernel::Automatic:
      return sm == 90 ? SageKernel::Hopper
                      : (sm >= 89 ? SageKernel::PortableFp8 : SageKernel::PortableF16);
    case SageKernel::Hopper:
      FV_CHECK(sm == 90, "SAGE_ATTN's Hopper kernel (wgmma) runs on sm_90 only; ", gpu, " is sm_",
               sm);
      return wanted;
    case SageKernel::PortableFp8:
      FV_CHECK(sm >= 89, "SAGE_ATTN's portable kernel with FP8 P̃·V needs sm_89 or newer (FP8 ",
               "mma.sync); ", gpu, " is sm_", sm);
      return wanted;
    case SageKernel::PortableF16:
      return wanted;
  }
  fail("SAGE_ATTN: unknown kernel ", int(wanted));
}

SageRecipe sage_recipe(SageKernel kernel) {
  switch (kernel) {
    case SageKernel::Hopper:
      return {};
    case SageKernel::PortableFp8:
      return {kSagePortableSoftmaxBlock, SagePvFormat::E4m3};
    case SageKernel::PortableF16:
      return {kSagePortableSoftmaxBlock, SagePvFormat::F16};
    case SageKernel::Automatic:
      break;
  }
  fail("sage_recipe: name the kernel (sage_kernel_for chooses it), got ", int(kernel));
}

namespace ops {

Tensor sage_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
  FV_CHECK(q.ndim() == 4 && k.ndim() == 4 && v.ndim() == 4,
           "SAGE_ATTN: q, k, v must be [B, S, H, D], got q ", q.describe(), ", k ", k.describe(),
           ", v ", v.describe());
  const int64_t D = q.size(3);
  FV_CHECK(D == 64 || D == 128, "SAGE_ATTN supports head_dim 64 and 128 (its Hopper kernel's), ",
           "got head_dim ", D, " (q ", q.describe(), ")");
  FV_CHECK(k.size(0) == q.size(0) && k.size(2) == q.size(2) && k.size(3) == D, "SAGE_ATTN: k ",
           k.describe(), " does not match q ", q.describe(), " in batch, heads or head_dim");
  FV_CHECK(v.shape() == k.shape(), "SAGE_ATTN: v ", v.describe(), " must have k's shape ",
           k.describe());
  FV_CHECK(k.size(1) >= 1, "SAGE_ATTN: k has no tokens (", k.describe(), ")");
  for (const Tensor* t : {&q, &k, &v}) {
    FV_CHECK(t->dtype() == DType::F32 || t->dtype() == DType::BF16,
             "SAGE_ATTN takes F32 or BF16 q, k, v, got ", t->describe());
  }
  // No queries (or no batch items or heads): nothing to compute, and no kernel takes an empty grid.
  if (q.numel() == 0 || k.numel() == 0) return Tensor::empty(q.shape(), q.dtype(), q.device());
  return FV_DISPATCH(q.device(), sage_attention(q, k, v, scale));
}

}  // namespace ops
}  // namespace fastvideo
