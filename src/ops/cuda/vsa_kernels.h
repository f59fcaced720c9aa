// The memory-bound and per-row kernels around VSA's GEMMs (ops/cuda/video_sparse_attention.cpp):
// tiling with the tile means, top-k selection with the row softmax, and untiling with the gated
// coarse output. All launch on `stream`; BF16 activations, f32 scores, f32 or BF16 means.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"

namespace fastvideo::ops::cuda {

// x [B, S, H, D] (raster) -> tiled [B, 64·N, H, D] (slot r of tile i holds token_of_slot[64i + r],
// zeros for -1; skipped when tiled is null) and means [B, N, H, D] over each tile's tile_sizes[i]
// valid tokens, summed in f32 and stored as means_dtype (F32 or BF16). D % 8 == 0.
void vsa_tile_with_means(const void* x, int64_t batch, int64_t tokens, int64_t heads,
                         int64_t head_dim, int64_t num_tiles, const int32_t* token_of_slot,
                         const int32_t* tile_sizes, void* tiled, void* means,
                         DType means_dtype, cudaStream_t stream);

// For each of `rows` rows of `n` scores (rows `ld` floats apart): writes the indices of its `topk`
// largest (ties at the k-th value towards the lowest index; scores ordered by their IEEE bits as
// select_top_blocks does) in ascending order to selected[row·topk ..], and, unless bf16_probs is
// null, the softmax of the whole row (all n scores) there in BF16, rows `ld` elements apart.
void vsa_select_and_softmax(const float* scores, int64_t rows, int64_t n, int64_t ld,
                            int64_t topk, int32_t* selected, void* bf16_probs,
                            cudaStream_t stream);

// The longest row vsa_select_and_softmax takes (its keys live in shared memory): 40,960 scores, or
// fewer where the current device gives a CTA less shared memory (about 25,000 on sm_86/89).
int64_t vsa_select_max_row();

// out[b, s, h, :] = fine[b, slot_of_token[s], h, :] + gate[b, s, h, :] ⊙ coarse[b, tile, h, :]
// (tile = slot / 64; no gate term when gate is null). out and gate BF16 [B, S, H, D], fine BF16
// [B, 64·N, H, D], coarse f32 [B, N, H, D] (may be null without a gate).
void vsa_untile_combine(const void* fine, const float* coarse, const void* gate,
                        const int32_t* slot_of_token, int64_t batch, int64_t tokens,
                        int64_t heads, int64_t head_dim, int64_t num_tiles, void* out,
                        cudaStream_t stream);

}  // namespace fastvideo::ops::cuda
