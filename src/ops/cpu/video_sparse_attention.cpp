// VSA on the CPU, f32: per (batch, head) the tile means, the coarse attention over tiles, the
// selection, then per query tile the attention over its selected tiles' valid tokens. The fine
// stage gathers the selected keys into one contiguous block, so padding never enters the math;
// both attentions are the engine's CPU attention (ops::cpu::attention) on those blocks.
#include "ops/video_sparse_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/attention.h"
#include "ops/cpu/sgemm.h"

namespace fastvideo::ops::cpu {

Tensor video_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                              const VsaTiling& tiling, int64_t topk, float scale,
                              VsaSelection* selection) {
  FV_CHECK(q.dtype() == DType::F32, "VIDEO_SPARSE_ATTN on the CPU computes in f32, got q ",
           q.describe());
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t N = tiling.num_tiles, T = kVsaTileTokens;
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  const Tensor gc = gate.defined() ? gate.contiguous() : Tensor();
  Tensor out = Tensor::empty({B, S, H, D}, DType::F32);
  Tensor scores_out, selected_out;
  if (selection) {
    scores_out = Tensor::empty({B, H, N, N}, DType::F32);
    selected_out = Tensor::empty({B, H, N, topk}, DType::I32);
  }
  const int64_t row = H * D;  // elements between consecutive tokens

  // (batch, head) pairs one after another: the GEMMs use OpenBLAS's own threads. Tile means and
  // gathered rows live in [1, rows, 1, D] tensors, the layout ops::cpu::attention takes.
  {
    Tensor means = Tensor::empty({3, 1, N, 1, D}, DType::F32);
    std::vector<float> scores(size_t(N * N));
    std::vector<int32_t> selected(size_t(N * topk));
    Tensor qf = Tensor::empty({1, T, 1, D}, DType::F32);
    Tensor kf = Tensor::empty({1, topk * T, 1, D}, DType::F32);
    Tensor vf = Tensor::empty({1, topk * T, 1, D}, DType::F32);
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
      sgemm(false, true, int(N), int(N), int(D), scale, qm.data<float>(), int(D), km.data<float>(),
            int(D), 0.f, scores.data(), int(N));
      for (int64_t i = 0; i < N; ++i)
        select_top_blocks(scores.data() + i * N, N, topk, selected.data() + i * topk);
      if (selection) {
        std::copy(scores.begin(), scores.end(), scores_out.data<float>() + bh * N * N);
        std::copy(selected.begin(), selected.end(), selected_out.data<int32_t>() + bh * N * topk);
      }
      const Tensor coarse = attention(qm, km, vm, scale);  // [1, N, 1, D]

      // Fine stage: each query tile against the valid tokens of its selected key tiles.
      for (int64_t i = 0; i < N; ++i) {
        int64_t keys = 0;
        for (int64_t n = 0; n < topk; ++n) {
          const int64_t j = selected[size_t(i * topk + n)];
          for (int32_t r = 0; r < tiling.tile_sizes[size_t(j)]; ++r, ++keys) {
            const int32_t s = tiling.token_of_slot[size_t(j * T + r)];
            std::copy_n(token(kc, s), D, kf.data<float>() + keys * D);
            std::copy_n(token(vc, s), D, vf.data<float>() + keys * D);
          }
        }
        const int32_t rows = tiling.tile_sizes[size_t(i)];
        for (int32_t r = 0; r < rows; ++r)
          std::copy_n(token(qc, tiling.token_of_slot[size_t(i * T + r)]), D,
                      qf.data<float>() + r * D);
        const Tensor fine =
            attention(qf.slice(1, 0, rows), kf.slice(1, 0, keys), vf.slice(1, 0, keys), scale);
        // out = fine + G ⊙ coarse (G = 0 without a gate).
        const float* c = coarse.data<float>() + i * D;
        for (int32_t r = 0; r < rows; ++r) {
          const int32_t s = tiling.token_of_slot[size_t(i * T + r)];
          float* dst = out.data<float>() + (b * S + s) * row + h * D;
          const float* f = fine.data<float>() + r * D;
          const float* g = gc.defined() ? token(gc, s) : nullptr;
          for (int64_t d = 0; d < D; ++d) dst[d] = f[d] + (g ? g[d] * c[d] : 0.f);
        }
      }
    }
  }
  if (selection) *selection = {scores_out, selected_out};
  return out;
}

}  // namespace fastvideo::ops::cpu
