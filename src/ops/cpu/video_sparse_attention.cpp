// VSA on the CPU, f32: per (batch, head) the tile means, the coarse attention over tiles and the
// selection; then the fine stage over the selected tiles (tile_list_attention) for every (batch,
// head) at once, and out = fine + G ⊙ coarse.
#include "ops/video_sparse_attention.h"

#include <algorithm>

#include "ops/attention.h"
#include "ops/cpu/sgemm.h"
#include "ops/cpu/tile_list_attention.h"

namespace fastvideo::ops::cpu {

Tensor video_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                              const VsaTiling& tiling, int64_t topk, float scale,
                              VsaSelection* selection) {
  FV_CHECK(q.dtype() == DType::F32, "VIDEO_SPARSE_ATTN on the CPU computes in f32, got q ",
           q.describe());
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t N = tiling.num_tiles, T = tiling.tile_slots;
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  const Tensor gc = gate.defined() ? gate.contiguous() : Tensor();
  Tensor scores_out = Tensor::empty({B, H, N, N}, DType::F32);
  Tensor selected_out = Tensor::empty({B, H, N, topk}, DType::I32);
  Tensor coarse_out = Tensor::empty({B, H, N, D}, DType::F32);
  const int64_t row = H * D;  // elements between consecutive tokens

  // (batch, head) pairs one after another: the GEMMs use OpenBLAS's own threads. Tile means live
  // in [1, N, 1, D] tensors, the layout ops::cpu::attention takes.
  {
    Tensor means = Tensor::empty({3, 1, N, 1, D}, DType::F32);
    for (int64_t bh = 0; bh < B * H; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      auto token = [&](const Tensor& t, int64_t s) {
        return t.data<float>() + (b * S + s) * row + h * D;
      };
      // Coarse stage: per-tile means of q, k, v over the valid tokens.
      const Tensor* qkv[3] = {&qc, &kc, &vc};
      for (int x = 0; x < 3; ++x)
        for (int64_t i = 0; i < N; ++i) {
          float* m = means.data<float>() + (x * N + i) * D;
          std::fill(m, m + D, 0.f);
          const int32_t size = tiling.tile_sizes[size_t(i)];
          for (int32_t r = 0; r < size; ++r) {
            const float* src = token(*qkv[x], tiling.token_of_slot[size_t(i * T + r)]);
            for (int64_t d = 0; d < D; ++d) m[d] += src[d];
          }
          for (int64_t d = 0; d < D; ++d) m[d] /= float(size);
        }
      const Tensor qm = means.select(0, 0), km = means.select(0, 1), vm = means.select(0, 2);
      // The scaled scores select the key tiles; the coarse output is their attention (which
      // forms the N×N scores again: small beside the fine stage).
      float* scores = scores_out.data<float>() + bh * N * N;
      sgemm(false, true, int(N), int(N), int(D), scale, qm.data<float>(), int(D), km.data<float>(),
            int(D), 0.f, scores, int(N));
      int32_t* selected = selected_out.data<int32_t>() + bh * N * topk;
      for (int64_t i = 0; i < N; ++i)
        select_top_blocks(scores + i * N, N, topk, selected + i * topk);
      const Tensor coarse = attention(qm, km, vm, scale);  // [1, N, 1, D]
      std::copy_n(coarse.data<float>(), N * D, coarse_out.data<float>() + bh * N * D);
    }
  }

  // Fine stage, then out = fine + G ⊙ coarse (G = 0 without a gate).
  Tensor out = tile_list_attention(qc, kc, vc, tiling, selected_out, scale);
  if (gc.defined()) {
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = tiling.slot_of_token[size_t(s)] / T;
        for (int64_t h = 0; h < H; ++h) {
          float* dst = out.data<float>() + (b * S + s) * row + h * D;
          const float* g = gc.data<float>() + (b * S + s) * row + h * D;
          const float* c = coarse_out.data<float>() + ((b * H + h) * N + i) * D;
          for (int64_t d = 0; d < D; ++d) dst[d] += g[d] * c[d];
        }
      }
  }
  if (selection) *selection = {scores_out, selected_out};
  return out;
}

}  // namespace fastvideo::ops::cpu
