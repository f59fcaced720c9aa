// SAGE_ATTN on a GPU (ops/sage_attention.h): the quantization pre-pass, then the kernel
// sage_kernel_for picks for this GPU (ops/cuda/sage_kernels.h): Hopper's on sm_90, the portable one
// on sm_80 .. sm_89 (FP8 P̃·V on sm_89, FP16 P̃·V below). The kernels take head_dim 128; head_dim 64
// runs on them zero-padded (ops/cuda/head_dim_padding.h), which gives the contract's result.
#include "ops/sage_attention.h"

#include "core/cuda/cuda_context.h"
#include "ops/cuda/head_dim_padding.h"
#include "ops/cuda/sage_kernels.h"

namespace fastvideo::ops::cuda {

int sage_tail_splits(int64_t tiles, int64_t key_blocks, int ctas) {
  constexpr int64_t kUnitCost = 2;  // key blocks' worth of a unit's fixed work (an estimate)
  const int64_t tail = tiles % ctas;
  if (tail == 0) return 1;
  int best = 1;
  int64_t best_cost = key_blocks + kUnitCost;  // the tail's tiles whole: one wave
  for (int splits = 2; splits <= 16 && key_blocks / splits >= 4; ++splits) {
    const int64_t waves = (tail * splits + ctas - 1) / ctas;
    const int64_t cost = waves * ((key_blocks + splits - 1) / splits + kUnitCost);
    if (cost < best_cost) best = splits, best_cost = cost;
  }
  return best;
}

Tensor sage_attention_with(SageKernel kernel, const Tensor& q, const Tensor& k, const Tensor& v,
                           float scale) {
  const CudaDeviceInfo& info = CudaContext::get(q.device().index).info();
  kernel = sage_kernel_for(info.major, info.minor, kernel, info.name);
  FV_CHECK(q.size(0) <= 65535 && q.size(2) <= 65535,
           "SAGE_ATTN on CUDA takes at most 65535 "
           "batch items and heads (grid dimensions), got q ",
           q.describe());
  FV_CHECK(q.size(3) == kSageHeadDim || q.size(3) == 64,
           "SAGE_ATTN on CUDA supports head_dim 64 and ", kSageHeadDim, ", got head_dim ",
           q.size(3), " (q ", q.describe(), ")");
  for (const Tensor* t : {&q, &k, &v}) {
    FV_CHECK(t->dtype() == DType::BF16 && t->is_contiguous(),
             "SAGE_ATTN on CUDA takes contiguous BF16 q, k, v, got ", t->describe());
  }
  if (q.size(3) < kPaddedHeadDim) {
    return unpad_head_dim(
        sage_attention_with(kernel, pad_head_dim(q), pad_head_dim(k), pad_head_dim(v), scale),
        q.size(3));
  }
  const SageVLayout v_layout =
      kernel == SageKernel::PortableF16 ? SageVLayout::F16Keys : SageVLayout::E4m3Slots;
  const SageDeviceInputs in = sage_quantize(q, k, v, sage_q_multiplier(scale), v_layout);
  Tensor out = Tensor::empty(q.shape(), DType::BF16, q.device());
  if (kernel == SageKernel::Hopper)
    hopper_sage_attention(in, out);
  else
    portable_sage_attention(in, out);
  return out;
}

Tensor sage_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
  return sage_attention_with(SageKernel::Automatic, q, k, v, scale);
}

}  // namespace fastvideo::ops::cuda
