// VSA's fine stage on a GPU (fastvideo.md §3.3): block-sparse attention of each 64-token query tile
// over its selected key tiles, fp32 accumulation, two kernels and the choice between them (the
// portable one also runs SLA's sparse branch). All tensors on one device, contiguous.
#pragma once

#include <array>

#include "core/tensor.h"
#include "ops/sparse_linear_attention.h"
#include "ops/video_sparse_attention.h"

namespace fastvideo::ops::cuda {

// The portable kernel (mma.sync + cp.async, any sm_80+ GPU; flash_attention_portable.cu): q, k, v
// [B, L, H, 128] BF16 cut into 64-row tiles, N = ceil(L / 64); query tile i of (b, h) attends to
// the key tiles selected[b, h, i / q_tiles_per_row, 0 .. topk) (I32), of which the first
// tile_sizes[j] (I32 [N]) keys are valid -> out [B, L, H, 128] BF16. VSA runs it on tiled copies
// (L = 64·N, padding rows computed for the caller to drop, one selection row per tile); SLA on the
// raster tensors themselves with tile_sizes undefined (tile j holds min(64, L − 64j) keys: only the
// sequence's last is partial, and rows past L are neither read nor written) and two query tiles
// per selection row (its 128-row query blocks).
void portable_block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                     const Tensor& selected, const Tensor& tile_sizes, float scale,
                                     const Tensor& out, int q_tiles_per_row = 1);

// The Hopper kernel (TMA + wgmma; sm_90 only, block_sparse_attention_hopper.cu), fused with
// untiling: q, k, v the tiled copies [B, 64·N, H, 128] BF16 (tile i's tile_sizes[i] valid tokens
// first), each valid slot's row written to token_of_slot[slot] (I32 [64·N]); or, with tile_starts
// (I32 [N]) and no token_of_slot, q, k, v [B, S, H, 128] in tile order (tile i's tokens on rows
// tile_starts[i] ..), read where they are and written to the same rows. The key tiles
// selected[b, h, i, 0 .. topk) of each query tile; coarse [B, N, H, 128] F32 and gate
// [B, S, H, 128] BF16 (both undefined: G = 0) -> out [B, S, H, 128] = fine + G ⊙ coarse.
void hopper_video_sparse_fine(const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& tile_sizes, const Tensor& tile_starts,
                              const Tensor& token_of_slot, const Tensor& selected,
                              const Tensor& coarse, const Tensor& gate, float scale,
                              const Tensor& out);

// Whether the Hopper kernel packs VSA's partial key tiles into shared 64-key steps ("stages")
// rather than one step per selected tile: where padding is more than an eighth of the tiled
// length. Packing cut the fine stage by 20-24 % at 480×832×81 (18 % padding) and placing the
// stages cost 6 % on whole tiles (H100, docs/perf.md, session 46).
inline bool vsa_packs_key_tiles(int64_t tokens, int64_t padded_len) {
  return 8 * (padded_len - tokens) > padded_len;
}

// The rows of shared memory a key tile of `count` valid tokens takes in a packed step: the count
// rounded up to a power of two, at least 8 (one 1,024-byte swizzle atom per 64-column half).
// constexpr, so the kernels call it too.
constexpr int vsa_key_box_rows(int count) {
  return count > 32 ? 64 : count > 16 ? 32 : count > 8 ? 16 : 8;
}

// The same Hopper kernel over 64-token blocks in sequence order (SLA's sparse branch): q, k, v
// [B, S, H, 128] BF16, the last block partial; query block i attends to the key blocks
// selected[b, h, i / q_tiles_per_row, 0 .. topk) -> out [B, S, H, 128]. sm_90 only.
void hopper_block_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                   const Tensor& selected, float scale, const Tensor& out,
                                   int q_tiles_per_row);

// Which block-sparse kernel VSA's fine stage and SLA's sparse branch run on a GPU: Hopper where it
// runs (sm_90), else Portable (for VSA with an explicit untiling after it).
enum class BlockSparseKernel { Automatic, Hopper, Portable };

// ops::cuda::video_sparse_attention with the fine stage chosen (tests and benchmarks compare them).
Tensor video_sparse_attention_with(BlockSparseKernel kernel, const Tensor& q, const Tensor& k,
                                   const Tensor& v, const Tensor& gate, const VsaTiling& tiling,
                                   int64_t topk, float scale, VsaSelection* selection = nullptr);

// ops::cuda::tile_list_attention (ops/tile_list_self_attention.h) with the kernel chosen: Hopper
// the dense FLASH_ATTN kernel over key runs, Portable the block-sparse kernel over 64-token blocks
// (tests compare them).
Tensor tile_list_attention_with(BlockSparseKernel kernel, const Tensor& q, const Tensor& k,
                                const Tensor& v, const TokenTiling& tiling, const Tensor& lists,
                                float scale);

// ops::cuda::sparse_linear_attention with the sparse branch's kernel chosen (tests compare them).
Tensor sparse_linear_attention_with(BlockSparseKernel kernel, const Tensor& q, const Tensor& k,
                                    const Tensor& v, const SlaConfig& config, float scale,
                                    const Tensor& proj_w = {}, const Tensor& proj_b = {},
                                    SlaSelection* selection = nullptr);

}  // namespace fastvideo::ops::cuda
