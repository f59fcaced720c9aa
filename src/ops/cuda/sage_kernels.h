// SAGE_ATTN's GPU pieces (ops/sage_attention.h is the contract): the quantization pre-pass (steps
// 1, 2 and 5, with the groups, scales and rounding of the CPU pieces ops::cpu::sage_smooth_k,
// sage_quantize_int8 and sage_quantize_v; sage_quantize.cu) writing the layouts the kernels read,
// and the kernels (steps 3, 4 and 6): Hopper's (sage_attention_hopper.cu, and for block lists
// sage_sparse_attention_hopper.cu; what they share in sage_hopper.cuh) and the portable one
// (sage_attention_portable.cu).
#pragma once

#include "core/tensor.h"
#include "ops/cuda/sla_kernels.h"
#include "ops/sage_attention.h"
#include "ops/sparse_linear_attention.h"

namespace fastvideo::ops::cuda {

inline constexpr int64_t kSageHeadDim = 128;  // the kernels' (64 runs on them padded)

// How the pre-pass writes V (step 5's values, in the kernel's recipe):
//   E4m3Slots: E4M3 bytes, each 16 keys in sage_v_slot order (the 8-bit MMAs' k order: the Hopper
//              kernel and the portable kernel's FP8 P̃·V);
//   F16Keys:   FP16 values of v / scale (the FP16 recipe, ops/sage_attention.h step 5), keys in
//              sequence order (the portable kernel's FP16 P̃·V, whose k16 fragments take keys in
//              order).
enum class SageVLayout { E4m3Slots, F16Keys };

struct SageDeviceInputs {
  Tensor q_int8;    // I8 [B, Sq, H, 128]: q · multiplier in Query groups
  Tensor q_scales;  // F32 [B, H, sage_query_scale_count(Sq)]
  Tensor k_int8;    // I8 [B, Sk, H, 128]: k minus its token mean, in Key groups
  Tensor k_scales;  // F32 [B, H, sage_key_scale_count(Sk)]
  Tensor v_fp8_t;   // E4m3Slots: F8E4M3 [B, H, 128, Sk rounded up to 128]: Vᵀ, each 16 keys in
                    // sage_v_slot order, padding keys zero; undefined for F16Keys
  Tensor v_f16_t;   // F16Keys: F16 [B, H, 128, Sk rounded up to 128]: Vᵀ, keys in order, padding
                    // keys zero; undefined for E4m3Slots
  Tensor v_scales;  // F32 [B, H, 128]
};

// Where key n of a 16-key group sits in a Vᵀ row: the P̃ fragment holds, for lane l, keys
// 2(l%4), 2(l%4)+1, 8+2(l%4), 9+2(l%4) of each 16 where the E4M3 wgmma's A operand wants four
// consecutive k, so Vᵀ's k order is keys 0 1 8 9 2 3 10 11 4 5 12 13 6 7 14 15.
constexpr int sage_v_slot(int key_in_16) {
  return key_in_16 < 8 ? (key_in_16 / 2) * 4 + key_in_16 % 2
                       : ((key_in_16 - 8) / 2) * 4 + 2 + key_in_16 % 2;
}

// SageSLA's block map inputs, which the pre-pass gives for little more than it reads anyway (the
// block map would read every q and k token again): the pooled q and smooth-k of
// ops/sparse_linear_attention.h at SageSLA's blocks, up to f32 summation order.
struct SageBlockMeans {
  Tensor q;  // F32 [B, H, ceil(Sq / 64), 128]: q's mean over each 64-row block's rows
  Tensor k;  // F32 [B, H, ceil(Sk / 128), 128]: the mean of k − mean_seq(k) over each 128-key block
};

// What the pre-pass's second pass needs from every k and v token: k's f32 sums over each 128
// keys (for k's token mean and SageSLA's block means) and max|v| per channel (V's scales).
struct SageKvStats {
  Tensor k_sums;    // F32 [B, ceil(Sk / 128), H·128]
  Tensor v_absmax;  // F32 [B, H, 128], raised by atomicMax on the bits: zeros when made

  // The pointers SLA's key pass fills them through (sla_key_state).
  SageStatistics pointers() const {
    return {k_sums.data<float>(), static_cast<unsigned*>(v_absmax.raw_data())};
  }
};
SageKvStats sage_kv_stats_buffers(int64_t batch, int64_t keys, int64_t heads, Device device);

// q, k, v BF16 [B, S, H, 128] on one CUDA device (k and v one shape); q_multiplier =
// sage_q_multiplier(scale). With `block_means`, fills it too. With `kv_stats` (filled on the
// stream by a pass that reads k and v anyway: SageSLA's key pass, sla_kernels.h), the pre-pass
// takes them and reads k and v once, not twice. Everything on the device's stream.
SageDeviceInputs sage_quantize(const Tensor& q, const Tensor& k, const Tensor& v,
                               float q_multiplier, SageVLayout v_layout = SageVLayout::E4m3Slots,
                               SageBlockMeans* block_means = nullptr,
                               const SageKvStats* kv_stats = nullptr);

// The attention on the pre-pass's output -> out BF16 [B, Sq, H, 128] (allocated by the caller).
// `selected` (SageSLA): I32 [B, H, ceil(Sq / 64), topk], the 128-key blocks of each 64-row query
// block, ascending; undefined: every block. sm_90a only; V in E4m3Slots.
void hopper_sage_attention(const SageDeviceInputs& in, const Tensor& out,
                           const Tensor& selected = {});

// How many key ranges the dense Hopper kernel cuts each tile of its last, partial wave into. It
// runs `tiles` work tiles (192 query rows of one batch item and head, over `key_blocks` blocks of
// 128 keys) on `ctas` persistent CTAs; when tiles % ctas leaves most CTAs idle for the last wave,
// those tiles run as that many key ranges each, merged after (contract step 4 allows it), so that
// the last waves are full. 1: no split. Picked by a cost in key blocks per CTA, with 2 blocks'
// worth per extra unit (its Q load, pipeline fill and the partial's store), at most 16 ranges of
// at least 4 blocks.
int sage_tail_splits(int64_t tiles, int64_t key_blocks, int ctas);

// SageSLA's linear branch (sla_kernels.h, sla_linear_output's sums), which the block-list kernel
// can add to its output rows before their one rounding to BF16 instead of a pass of its own that
// reads them back: q BF16 [B, Sq, H, 128], ksum = Σφ(k) F32 [B, H, 128], m BF16 [B, H, 128, 128]
// (proj_l's weight folded into the state), bias F32 [128].
struct SageLinearTerm {
  const void* q = nullptr;
  const float* ksum = nullptr;
  const void* m = nullptr;
  const float* bias = nullptr;
  SlaFeatureMap map = SlaFeatureMap::Softmax;
};

// hopper_sage_attention's block-list case (sage_sparse_attention_hopper.cu); `selected` defined.
// With `linear`, out = the attention + φ̃·M + bias.
void hopper_sage_sparse_attention(const SageDeviceInputs& in, const Tensor& out,
                                  const Tensor& selected, const SageLinearTerm* linear = nullptr);

// The same on mma.sync (any sm_80+): P̃·V on FP16 MMAs when in.v_f16_t is defined (F16Keys), on
// FP8 E4M3 MMAs from in.v_fp8_t otherwise (E4m3Slots; sm_89+, refused below naming the GPU).
void portable_sage_attention(const SageDeviceInputs& in, const Tensor& out);

// ops::cuda::sage_attention with the kernel chosen (sage_kernel_for checks it can run here): the
// pre-pass in the V layout that kernel reads, then the kernel. Tests compare the kernels with it.
Tensor sage_attention_with(SageKernel kernel, const Tensor& q, const Tensor& k, const Tensor& v,
                           float scale);

}  // namespace fastvideo::ops::cuda
