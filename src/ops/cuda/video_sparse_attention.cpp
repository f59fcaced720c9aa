// VSA on a GPU (ops/video_sparse_attention.h), per call:
//   1. the tile means [B, N, H, D] of q, k, v (f32 sums stored BF16) and their tiled copies
//      [B, 64·N, H, D] (one kernel each); on Hopper with the rows in tile order (the
//      transformer's under VSA) the means alone, the fine stage reading each tile where it lies;
//   2. coarse scores S = scale·q̄·k̄ᵀ per (batch, head): one head-batched BF16 cuBLASLt GEMM with
//      f32 accumulation and output;
//   3. per score row the top-k key tiles and the row softmax as BF16 probabilities (one kernel);
//   4. coarse output Ō = softmax(S)·v̄: the second BF16 GEMM, f32 out. Without a gate (G = 0)
//      the softmax and this GEMM are skipped, and so are V's means on the in-place Hopper route;
//   5. the fine stage over the selected tiles of the tiled copies, plus G ⊙ Ō: on Hopper one kernel
//      that writes raster rows; elsewhere the portable kernel, then untiling by one gather with
//      G ⊙ Ō added.
// head_dim 64 runs on the same kernels with q, k, v and G zero-padded to 128 channels
// (ops/cuda/head_dim_padding.h). The coarse GEMMs stay on cuBLASLt (DESIGN §8): at N ≤ 1,440 tiles
// they are microseconds, and a fused kernel would re-read the means once per query tile.
#include "ops/video_sparse_attention.h"

#include <map>
#include <mutex>
#include <tuple>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/head_batched_gemm.h"
#include "ops/cuda/head_dim_padding.h"
#include "ops/cuda/vsa_fine_stage.h"
#include "ops/cuda/vsa_kernels.h"

namespace fastvideo::ops::cuda {

namespace {

// A tiling's index maps on one device, uploaded once.
struct DeviceTiling {
  Tensor token_of_slot, slot_of_token, tile_sizes;
  Tensor tile_starts;  // in tile order: each tile's first row
};

Tensor upload(const std::vector<int32_t>& values, Device device) {
  return Tensor::from_vector_i32(values, {int64_t(values.size())}).to(device);
}

const DeviceTiling& device_tiling(const VsaTiling& tiling, Device device) {
  static std::mutex mutex;
  static std::map<std::tuple<std::array<int64_t, 3>, bool, int>, DeviceTiling> cache;
  std::lock_guard lock(mutex);
  DeviceTiling& entry = cache[{tiling.grid, tiling.tile_order, device.index}];
  if (!entry.tile_sizes.defined()) {
    entry = {upload(tiling.token_of_slot, device), upload(tiling.slot_of_token, device),
             upload(tiling.tile_sizes, device),
             tiling.tile_order ? upload(tiling.tile_starts, device) : Tensor()};
  }
  return entry;
}

}  // namespace

Tensor video_sparse_attention_with(BlockSparseKernel kernel, const Tensor& q, const Tensor& k,
                                   const Tensor& v, const Tensor& gate, const VsaTiling& tiling,
                                   int64_t topk, float scale, VsaSelection* selection) {
  FV_CHECK(q.dtype() == DType::BF16, "VIDEO_SPARSE_ATTN on a GPU takes BF16 q, k, v; got ",
           q.describe());
  FV_CHECK(q.size(3) == 128 || q.size(3) == 64,
           "VIDEO_SPARSE_ATTN on a GPU needs head_dim 64 or 128, got ", q.size(3), " (q ",
           q.describe(), ")");
  if (q.size(3) < kPaddedHeadDim) {
    return unpad_head_dim(
        video_sparse_attention_with(kernel, pad_head_dim(q), pad_head_dim(k), pad_head_dim(v),
                                    pad_head_dim(gate), tiling, topk, scale, selection),
        q.size(3));
  }
  FV_CHECK(q.size(0) <= 65535,
           "VIDEO_SPARSE_ATTN on a GPU takes at most 65535 batch items (a grid "
           "dimension), got ",
           q.size(0));
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t N = tiling.num_tiles, L = tiling.padded_len;
  CudaContext& ctx = use_cuda_device(q.device().index);
  const cudaStream_t stream = ctx.stream();
  const bool hopper_here = ctx.info().major == 9 && ctx.info().minor == 0;
  if (kernel == BlockSparseKernel::Automatic)
    kernel = hopper_here ? BlockSparseKernel::Hopper : BlockSparseKernel::Portable;
  FV_CHECK(kernel != BlockSparseKernel::Hopper || hopper_here,
           "VIDEO_SPARSE_ATTN: the Hopper kernel needs an sm_90 GPU, not ", ctx.info().name);
  const DeviceTiling& dt = device_tiling(tiling, q.device());
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  const Tensor gc = gate.defined() ? gate.contiguous() : Tensor();

  // 1. Tile means, and tiled copies unless the Hopper kernel reads rows in tile order in place.
  // The means are summed in f32 and stored in BF16, and the coarse stage's two GEMMs run on the
  // tensor cores with f32 accumulation and f32 outputs (FastVideo's fused_block_mean writes BF16
  // means and multiplies them in BF16; the CPU reference stays f32).
  // Without a gate (G = 0, a checkpoint with no to_gate_compress) the coarse output is multiplied
  // by zero, so the score rows' softmax, the coarse output GEMM and (in place on Hopper, where
  // no tiled copy of V is written either) V's means are skipped: the coarse stage is the scores
  // the selection needs. (FastVideo computes O_c and multiplies it by its zero gate; the two
  // differ only where O_c is not finite.)
  const bool coarse_output = gc.defined();
  const bool in_place = kernel == BlockSparseKernel::Hopper && tiling.tile_order;
  Tensor tiled[3], means[3];
  const Tensor* inputs[3] = {&qc, &kc, &vc};
  for (int x = 0; x < 3; ++x) {
    if (!in_place) tiled[x] = Tensor::empty({B, L, H, D}, DType::BF16, q.device());
    if (x == 2 && !coarse_output && in_place) continue;
    means[x] = Tensor::empty({B, N, H, D}, DType::BF16, q.device());
    vsa_tile_with_means(inputs[x]->raw_data(), B, S, H, D, N, dt.token_of_slot.data<int32_t>(),
                        dt.tile_sizes.data<int32_t>(), in_place ? nullptr : tiled[x].raw_data(),
                        means[x].raw_data(), DType::BF16, stream);
  }

  // 2-4. Coarse attention and selection. Score rows padded to 8 elements keep the f32 scores and
  // the BF16 probabilities 16-byte aligned.
  const int64_t ld = (N + 7) / 8 * 8;
  Tensor scores = Tensor::empty({B, H, N, ld}, DType::F32, q.device());
  Tensor probs;
  if (coarse_output) probs = Tensor::empty({B, H, N, ld}, DType::BF16, q.device());
  Tensor selected = Tensor::empty({B, H, N, topk}, DType::I32, q.device());
  for (int64_t b = 0; b < B; ++b) {
    // Row-major S[h] (N×N) = Q̄[h]·K̄[h]ᵀ is column-major Sᵀ = K̄[h]·Q̄[h]ᵀ (as in the general
    // attention path): heads D elements apart, tiles H·D apart.
    const Operand k_op{operand_at(means[1], b * N * H * D), DType::BF16, D, N, H * D, D};
    const Operand q_op{operand_at(means[0], b * N * H * D), DType::BF16, D, N, H * D, D};
    const Operand s_op{operand_at(scores, b * H * N * ld), DType::F32, N, N, ld, N * ld};
    batched_gemm(ctx, true, k_op, q_op, s_op, scale, int(H));
  }
  if (selection) {
    selection->scores = Tensor::empty({B, H, N, N}, DType::F32, q.device());
    FV_CUDA_CHECK(cudaMemcpy2DAsync(selection->scores.raw_data(), N * sizeof(float),
                                    scores.raw_data(), ld * sizeof(float), N * sizeof(float),
                                    B * H * N, cudaMemcpyDeviceToDevice, stream));
  }
  vsa_select_and_softmax(scores.data<float>(), B * H * N, N, ld, topk, selected.data<int32_t>(),
                         coarse_output ? probs.raw_data() : nullptr, stream);
  if (selection) selection->selected = selected;
  Tensor coarse;
  if (coarse_output) coarse = Tensor::empty({B, N, H, D}, DType::F32, q.device());
  for (int64_t b = 0; coarse_output && b < B; ++b) {
    // Row-major Ō[h] (N×D) = P[h]·V̄[h] is column-major Ōᵀ = V̄[h]ᵀ·P[h]ᵀ.
    const Operand v_op{operand_at(means[2], b * N * H * D), DType::BF16, D, N, H * D, D};
    const Operand p_op{operand_at(probs, b * H * N * ld), DType::BF16, N, N, ld, N * ld};
    const Operand o_op{operand_at(coarse, b * N * H * D), DType::F32, D, N, H * D, D};
    batched_gemm(ctx, false, v_op, p_op, o_op, 1.0f, int(H));
  }

  // 5. Fine stage with the gated coarse output.
  Tensor out = Tensor::empty({B, S, H, D}, DType::BF16, q.device());
  if (in_place) {
    hopper_video_sparse_fine(qc, kc, vc, dt.tile_sizes, dt.tile_starts, Tensor(), selected, coarse,
                             gc, scale, out);
    return out;
  }
  if (kernel == BlockSparseKernel::Hopper) {
    hopper_video_sparse_fine(tiled[0], tiled[1], tiled[2], dt.tile_sizes, Tensor(),
                             dt.token_of_slot, selected, coarse, gc, scale, out);
    return out;
  }
  Tensor fine = Tensor::empty({B, L, H, D}, DType::BF16, q.device());
  portable_block_sparse_attention(tiled[0], tiled[1], tiled[2], selected, dt.tile_sizes, scale,
                                  fine);
  vsa_untile_combine(fine.raw_data(), coarse_output ? coarse.data<float>() : nullptr,
                     coarse_output ? gc.raw_data() : nullptr, dt.slot_of_token.data<int32_t>(), B,
                     S, H, D, N, out.raw_data(), stream);
  return out;
}

Tensor video_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                              const VsaTiling& tiling, int64_t topk, float scale,
                              VsaSelection* selection) {
  return video_sparse_attention_with(BlockSparseKernel::Automatic, q, k, v, gate, tiling, topk,
                                     scale, selection);
}

}  // namespace fastvideo::ops::cuda
