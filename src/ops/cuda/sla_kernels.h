// The kernels around SLA's GEMMs (ops/cuda/sparse_linear_attention.cpp): the block map's pooling
// (block means, smooth-k), the linear branch's key features, and its query side fused with the
// product by the folded state and the final sum. Activations BF16 [B, S, H, D] with
// D = kSlaHeadDim; means, sums f32. All launch on `stream`.
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

// Rows of `sla_key_sum_chunks(tokens)` partial key sums per (batch, head), the workspace of
// sla_key_features.
int64_t sla_key_sum_chunks(int64_t tokens);

// phi_k [B, S, H, D] BF16 = φ(k) per token row, and ksum [B, H, D] f32 = Σ_s φ(k) (of the BF16
// values written, the ones the GEMM reads), summed in a fixed order through `partial` [B·H,
// sla_key_sum_chunks(S), D] f32.
void sla_key_features(const void* k, int64_t batch, int64_t tokens, int64_t heads,
                      SlaFeatureMap map, void* phi_k, float* partial, float* ksum,
                      cudaStream_t stream);

// The linear branch's query side (sla_linear_output.cu), per token row of q [B, S, H, D]:
// out += φ̃·M[b, h] + bias, with φ̃ = φ(q) / (1e-5 + φ(q)·ksum[b, h]) rounded to BF16 (the GEMM
// operand it was), M [B, H, D, D] BF16 (proj_l's weight folded into the state), bias f32 [D], and
// out BF16 [B, S, H, D] rounded once from the f32 sum. On the current device, any sm_80+.
void sla_linear_output(const void* q, const float* ksum, const void* m, const float* bias,
                       int64_t batch, int64_t tokens, int64_t heads, SlaFeatureMap map, void* out,
                       cudaStream_t stream);

}  // namespace fastvideo::ops::cuda
