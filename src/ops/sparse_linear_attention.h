// SLA, sparse-linear attention as FastVideo runs it (fastvideo.md §4.3, attention-algorithms.md §7,
// FastVideo's SLAAttentionImpl from TurboDiffusion): O = O_sparse + proj_l(O_linear).
//  - Block map per (batch, head): q mean-pooled over blocks of BLKQ tokens, k − mean_seq(k)
//    ("smooth-k") over blocks of BLKK tokens (the last block of each holds what is left and is
//    averaged over its own count), scores q̄·k̄ᵀ; each query block keeps its topk = ⌊ratio·N_k⌋ best
//    key blocks (ties towards the lowest index: torch.topk leaves their order open).
//  - O_sparse: softmax(q·kᵀ·scale)·v of each query block over the keys of its selected blocks.
//  - O_linear: φ(q)·(φ(k)ᵀv) / (1e-5 + φ(q)·Σφ(k)) over every key, φ the feature map.
//  - proj_l: a per-layer Linear(D, D) in f32 applied per head; absent = zero (pure sparse).
// Tensors in the engine's layout [B, S, H, D], tokens in sequence order (no video tiling).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace fastvideo {

enum class SlaFeatureMap { Softmax, EluPlusOne, Relu };  // FastVideo's "softmax", "elu", "relu"

struct SlaConfig {
  double topk_ratio = 0.1;  // FastVideo's SLAAttentionImpl default
  int64_t block_q = 128, block_k = 64;
  SlaFeatureMap feature_map = SlaFeatureMap::Softmax;
  // SageSLA (fastvideo.md §4.4): the sparse branch by SAGE_ATTN's quantized rule
  // (ops/sage_attention.h: K smoothed and quantized over all tokens, V per channel over all
  // tokens) over the selected blocks, which must then be its blocks: block_q 64, block_k 128
  // (SpargeAttn's sm90 shape).
  bool quantized = false;
};

// SageSLA's defaults: topk_ratio 0.5 (FastVideo's SageSLAAttentionImpl), 64-row query blocks
// over 128-key blocks.
inline SlaConfig sage_sla_config(double topk_ratio = 0.5) {
  return {.topk_ratio = topk_ratio,
          .block_q = 64,
          .block_k = 128,
          .feature_map = SlaFeatureMap::Softmax,
          .quantized = true};
}

// topk = min(N_k, ⌊ratio·N_k⌋); a ratio outside (0, 1] or one that keeps no block is refused naming
// the ratio and N_k (FastVideo would run with no keys at all).
int64_t sla_topk(double topk_ratio, int64_t key_blocks);

// What an SLA call decided, for tests: the block scores q̄·k̄ᵀ [B, H, N_q, N_k] (f32) and the
// selected key blocks [B, H, N_q, topk] (I32, ascending per row).
struct SlaSelection {
  Tensor scores, selected;
};

namespace ops {

// q, k, v [B, S, H, D] (self-attention: one shape); proj_w [D, D] and proj_b [D] f32, or both
// undefined (proj_l = 0). -> [B, S, H, D] in q's dtype. CPU: f32. CUDA (ops/cuda/
// sparse_linear_attention.cpp): BF16, head_dim 128, BLKK 64 and BLKQ a multiple of 64 (the
// block-sparse kernel's tiles); block map in fp32, both branches BF16 with fp32 accumulation,
// proj_l on the same device.
Tensor sparse_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const SlaConfig& config, float scale, const Tensor& proj_w = {},
                               const Tensor& proj_b = {}, SlaSelection* selection = nullptr);

namespace cpu {
Tensor sparse_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const SlaConfig& config, float scale, const Tensor& proj_w,
                               const Tensor& proj_b, SlaSelection* selection);
}  // namespace cpu
namespace cuda {
Tensor sparse_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const SlaConfig& config, float scale, const Tensor& proj_w,
                               const Tensor& proj_b, SlaSelection* selection);
}  // namespace cuda

}  // namespace ops
}  // namespace fastvideo
