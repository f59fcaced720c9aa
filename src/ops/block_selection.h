// Which key blocks a row of block scores keeps, the rule the block-sparse backends share (VSA's
// tiles, SLA's blocks): the `topk` highest scores, ties at the k-th value broken towards the lowest
// index (FastVideo's fused_topk_mask rule), written in ascending index order. Scores compare as
// their IEEE bit patterns mapped to a total order (NaN above +inf, -0 below +0), so every row has
// exactly `topk` selections. The CUDA twin is vsa_select_and_softmax (ops/cuda/vsa_kernels.h).
#pragma once

#include <cstdint>

namespace fastvideo {

void select_top_blocks(const float* scores, int64_t count, int64_t topk, int32_t* selected);

}  // namespace fastvideo
