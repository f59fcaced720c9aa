// VMoBA on a GPU (ops/video_moba_attention.h): the chunk gates kept on the device, and the
// per-(head, query chunk) selection rules run there, written straight as the key runs the Hopper
// FLASH_ATTN kernel walks (ops/tile_runs.h), so nothing goes to the host between the gates and the
// attention.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "core/tensor.h"
#include "ops/cuda/key_runs_attention.h"
#include "ops/token_tiling.h"
#include "ops/video_moba_attention.h"

namespace fastvideo::ops::cuda {

// The gates F32 [B, H, N, ld] on q's device (rows padded to ld = N rounded up to 4 floats).
Tensor vmoba_device_gates(const Tensor& q, const Tensor& k, const TokenTiling& tiling);

// Whether vmoba_select_runs takes `rule` on N chunks: the query_head groups (one row of gates
// each), at most kVmobaRowMax chunks.
inline constexpr int64_t kVmobaRowMax = 2048;
bool vmoba_rule_on_device(const VmobaRule& rule, int64_t chunks);

// For each of `rows` rows of N gates (ld floats apart), the query_head selection of `rule` for
// query chunk row % N (ops::vmoba_select's arithmetic, in the same order: the same chunks), as
// runs of consecutive chunks in key rows: runs I32 [rows, R, 2] (key_offset I32 [N + 1] the chunks'
// first key rows; R >= the most runs, (N + 1) / 2 always suffices) and counts I32 [rows].
void vmoba_select_runs(const float* gates, int64_t ld, int64_t rows, int64_t N,
                       const VmobaRule& rule, const int32_t* key_offset, int64_t R, int32_t* runs,
                       int32_t* counts, cudaStream_t stream);

// VMoBA self-attention with the selection on the device (vmoba_rule_on_device true, an sm_90
// GPU): gates, selection as runs, then the key-runs attention. q, k, v BF16 [B, S, H, 128].
Tensor video_moba_attention_on_device(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const TokenTiling& tiling, const VmobaRule& rule,
                                      float scale);

// The runs and counts video_moba_attention_on_device attends over (tests compare them with the
// host's selection): {I32 [B, H, N, (N + 1) / 2, 2], I32 [B, H, N]} on q's device.
std::pair<Tensor, Tensor> vmoba_device_runs(const Tensor& q, const Tensor& k,
                                            const TokenTiling& tiling, const VmobaRule& rule);

}  // namespace fastvideo::ops::cuda
