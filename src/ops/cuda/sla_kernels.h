// The kernels around SLA's GEMMs (ops/cuda/sparse_linear_attention.cpp): the block map's pooling
// (block means, smooth-k), and the linear branch's two sides, each one kernel around the feature
// map and its tensor-core product. Activations BF16 [B, S, H, D] with D = kSlaHeadDim; means,
// sums f32. All launch on `stream`.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "ops/sparse_linear_attention.h"

namespace fastvideo::ops::cuda {

inline constexpr int64_t kSlaHeadDim = 128;

// means [B, H, N, D] f32 of x [B, S, H, D] over blocks of `block` tokens, N = ceil(S / block), the
// last block over what is left of the sequence.
void sla_block_means(const void* x, int64_t batch, int64_t tokens, int64_t heads, int64_t block,
                     float* means, cudaStream_t stream);

// smooth-k: turns the key block means [B·H, N, D] (blocks of `block` of `tokens` keys) into block
// means of k − mean_seq(k) by subtracting the sequence mean, which it recovers from them weighted
// by each block's token count.
void sla_center_block_means(float* means, int64_t batch_heads, int64_t num_blocks, int64_t block,
                            int64_t tokens, cudaStream_t stream);

// The linear branch's key side (sla_key_state.cu) of k, v [B, S, H, D]: state [B, H, D, D] f32
// = φ(k)ᵀ·v (row d, column e) with φ(k) rounded to BF16 (the GEMM operand it was), and ksum
// [B, H, D] f32 = Σ_s of those BF16 values; both summed in a fixed order through `workspace`
// (sla_key_state_workspace floats). On the current device, any sm_80+. `stages` is the depth of
// its tile ring: 0 picks the deepest the device's shared memory holds (3, or 2 on sm_86 / sm_89);
// tests force 2 to run that path on a Hopper. The bits do not depend on it.
//
// SageSLA's pre-pass needs statistics over every k and v token (sage_kernels.h, SageKvStats),
// which it would read both again for; the key pass gives them for almost nothing where `stats`
// points at them: k_sums [B, ceil(S / 128), H·D] f32, k's sums over each 128 tokens (on the
// tensor cores: not SAGE's own pass's order, so the last bits may differ), and v_absmax
// [B, H, D], max|v| per channel as the bits of a non-negative float, raised by atomicMax (zero it
// first). The state's bits do not depend on it.
struct SageStatistics {
  float* k_sums = nullptr;
  unsigned* v_absmax = nullptr;
};
int64_t sla_key_state_workspace(int64_t batch, int64_t tokens, int64_t heads);
void sla_key_state(const void* k, const void* v, int64_t batch, int64_t tokens, int64_t heads,
                   SlaFeatureMap map, float* workspace, float* state, float* ksum,
                   cudaStream_t stream, const SageStatistics& stats = {}, int stages = 0);

// The linear branch's query side (sla_linear_output.cu), per token row of q [B, S, H, D]:
// out += φ̃·M[b, h] + bias, with φ̃ = φ(q) / (1e-5 + φ(q)·ksum[b, h]) rounded to BF16 (the GEMM
// operand it was), M [B, H, D, D] BF16 (proj_l's weight folded into the state), bias f32 [D], and
// out BF16 [B, S, H, D] rounded once from the f32 sum. On the current device, any sm_80+.
void sla_linear_output(const void* q, const float* ksum, const void* m, const float* bias,
                       int64_t batch, int64_t tokens, int64_t heads, SlaFeatureMap map, void* out,
                       cudaStream_t stream);

}  // namespace fastvideo::ops::cuda
