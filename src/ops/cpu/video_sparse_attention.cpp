// VSA on the CPU, f32: per (batch, head) the tile means, the coarse attention over tiles, the
// selection, then per query tile the attention over its selected tiles' valid tokens. The fine
// stage gathers the selected keys into one contiguous block, so padding never enters the math.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/cpu/sgemm.h"
#include "ops/video_sparse_attention.h"

namespace fastvideo::ops::cpu {

namespace {

// Row-wise softmax of `rows` rows of `cols` in place.
void softmax_rows(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    float mx = -INFINITY;
    for (int64_t j = 0; j < cols; ++j) mx = std::max(mx, row[j]);
    double sum = 0;
    for (int64_t j = 0; j < cols; ++j) {
      row[j] = std::exp(row[j] - mx);
      sum += row[j];
    }
    const float inv = float(1.0 / sum);
    for (int64_t j = 0; j < cols; ++j) row[j] *= inv;
  }
}

}  // namespace

Tensor video_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& gate, const VsaTiling& tiling, int64_t topk,
                              float scale, VsaSelection* selection) {
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

  // (batch, head) pairs one after another: the GEMMs use OpenBLAS's own threads.
  {
    std::vector<float> means(size_t(3 * N * D)), scores(size_t(N * N)), coarse(size_t(N * D));
    std::vector<int32_t> selected(size_t(N * topk));
    std::vector<float> kf(size_t(topk * T * D)), vf(size_t(topk * T * D)), qf(size_t(T * D)),
        sf(size_t(T * topk * T)), of(size_t(T * D));
    for (int64_t bh = 0; bh < B * H; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      auto token = [&](const Tensor& t, int64_t s) {
        return t.data<float>() + (b * S + s) * row + h * D;
      };
      // Coarse stage: per-tile means of q, k, v over the valid tokens.
      const Tensor* qkv[3] = {&qc, &kc, &vc};
      for (int x = 0; x < 3; ++x)
        for (int64_t i = 0; i < N; ++i) {
          float* m = means.data() + (x * N + i) * D;
          std::fill(m, m + D, 0.f);
          const int32_t size = tiling.tile_sizes[size_t(i)];
          for (int32_t r = 0; r < size; ++r) {
            const float* src = token(*qkv[x], tiling.token_of_slot[size_t(i * T + r)]);
            for (int64_t d = 0; d < D; ++d) m[d] += src[d];
          }
          for (int64_t d = 0; d < D; ++d) m[d] /= float(size);
        }
      const float* qm = means.data();
      const float* km = qm + N * D;
      const float* vm = km + N * D;
      sgemm(false, true, int(N), int(N), int(D), scale, qm, int(D), km, int(D), 0.f, scores.data(),
            int(N));
      for (int64_t i = 0; i < N; ++i)
        select_top_blocks(scores.data() + i * N, N, topk, selected.data() + i * topk);
      if (selection) {
        std::copy(scores.begin(), scores.end(), scores_out.data<float>() + bh * N * N);
        std::copy(selected.begin(), selected.end(), selected_out.data<int32_t>() + bh * N * topk);
      }
      softmax_rows(scores.data(), N, N);
      sgemm(false, false, int(N), int(D), int(N), 1.f, scores.data(), int(N), vm, int(D), 0.f,
            coarse.data(), int(D));

      // Fine stage: each query tile against the valid tokens of its selected key tiles.
      for (int64_t i = 0; i < N; ++i) {
        int64_t keys = 0;
        for (int64_t n = 0; n < topk; ++n) {
          const int64_t j = selected[size_t(i * topk + n)];
          for (int32_t r = 0; r < tiling.tile_sizes[size_t(j)]; ++r, ++keys) {
            const int32_t s = tiling.token_of_slot[size_t(j * T + r)];
            std::copy_n(token(kc, s), D, kf.data() + keys * D);
            std::copy_n(token(vc, s), D, vf.data() + keys * D);
          }
        }
        const int32_t rows = tiling.tile_sizes[size_t(i)];
        for (int32_t r = 0; r < rows; ++r)
          std::copy_n(token(qc, tiling.token_of_slot[size_t(i * T + r)]), D, qf.data() + r * D);
        sgemm(false, true, rows, int(keys), int(D), scale, qf.data(), int(D), kf.data(), int(D),
              0.f, sf.data(), int(keys));
        softmax_rows(sf.data(), rows, keys);
        sgemm(false, false, rows, int(D), int(keys), 1.f, sf.data(), int(keys), vf.data(), int(D),
              0.f, of.data(), int(D));
        // out = fine + G ⊙ coarse (G = 0 without a gate).
        for (int32_t r = 0; r < rows; ++r) {
          const int32_t s = tiling.token_of_slot[size_t(i * T + r)];
          float* dst = out.data<float>() + (b * S + s) * row + h * D;
          const float* g = gc.defined() ? token(gc, s) : nullptr;
          for (int64_t d = 0; d < D; ++d)
            dst[d] = of[size_t(r * D + d)] + (g ? g[d] * coarse[size_t(i * D + d)] : 0.f);
        }
      }
    }
  }
  if (selection) *selection = {scores_out, selected_out};
  return out;
}

}  // namespace fastvideo::ops::cpu
