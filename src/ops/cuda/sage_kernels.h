// SAGE_ATTN's GPU pieces (ops/sage_attention.h is the contract): the quantization pre-pass (steps 1,
// 2 and 5, with the groups, scales and rounding of the CPU pieces ops::cpu::sage_smooth_k,
// sage_quantize_int8 and sage_quantize_v; sage_quantize.cu) writing the layouts the Hopper
// kernel's TMA loads read, and that kernel (steps 3, 4 and 6; sage_attention_hopper.cu).
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops::cuda {

inline constexpr int64_t kSageHeadDim = 128;  // the one head dim the GPU path has

struct SageDeviceInputs {
  Tensor q_int8;    // I8 [B, Sq, H, 128]: q · multiplier in Query groups
  Tensor q_scales;  // F32 [B, H, sage_query_scale_count(Sq)]
  Tensor k_int8;    // I8 [B, Sk, H, 128]: k minus its token mean, in Key groups
  Tensor k_scales;  // F32 [B, H, sage_key_scale_count(Sk)]
  Tensor v_fp8_t;   // F8E4M3 [B, H, 128, Sk rounded up to 128]: Vᵀ, each 16 keys in
                    // sage_v_slot order, padding keys zero
  Tensor v_scales;  // F32 [B, H, 128]
};

// Where key n of a 16-key group sits in a Vᵀ row: the P̃ fragment holds, for lane l, keys
// 2(l%4), 2(l%4)+1, 8+2(l%4), 9+2(l%4) of each 16 where the E4M3 wgmma's A operand wants four
// consecutive k, so Vᵀ's k order is keys 0 1 8 9 2 3 10 11 4 5 12 13 6 7 14 15.
constexpr int sage_v_slot(int key_in_16) {
  return key_in_16 < 8 ? (key_in_16 / 2) * 4 + key_in_16 % 2
                       : ((key_in_16 - 8) / 2) * 4 + 2 + key_in_16 % 2;
}

// q, k, v BF16 [B, S, H, 128] on one CUDA device (k and v one shape); q_multiplier =
// sage_q_multiplier(scale). Everything on the device's stream.
SageDeviceInputs sage_quantize(const Tensor& q, const Tensor& k, const Tensor& v,
                               float q_multiplier);

// The attention on the pre-pass's output -> out BF16 [B, Sq, H, 128] (allocated by the caller).
// `selected` (SageSLA): I32 [B, H, ceil(Sq / 64), topk], the 128-key blocks of each 64-row query
// block, ascending; undefined: every block. sm_90a only.
void hopper_sage_attention(const SageDeviceInputs& in, const Tensor& out,
                           const Tensor& selected = {});

}  // namespace fastvideo::ops::cuda
