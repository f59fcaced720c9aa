#include "ops/cpu/tile_list_attention.h"

#include <algorithm>

#include "fastvideo/error.h"
#include "ops/attention.h"
#include "ops/tile_lists.h"

namespace fastvideo::ops::cpu {

Tensor tile_list_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const TokenTiling& tiling, const Tensor& lists, float scale) {
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t N = tiling.num_tiles, T = tiling.tile_slots;
  check_tile_lists(lists, N, "tile_list_attention");
  FV_CHECK(lists.size(0) == B && lists.size(1) == H, "tile_list_attention: lists must be [", B,
           ", ", H, ", ", N, ", L], got ", lists.describe());
  const int64_t L = lists.size(3);
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  Tensor out = Tensor::empty({B, S, H, D}, DType::F32);
  const int64_t row = H * D;  // elements between consecutive tokens
  // Gathered rows live in [1, rows, 1, D] tensors, the layout ops::cpu::attention takes.
  Tensor qf = Tensor::empty({1, T, 1, D}, DType::F32);
  Tensor kf = Tensor::empty({1, L * T, 1, D}, DType::F32);
  Tensor vf = Tensor::empty({1, L * T, 1, D}, DType::F32);
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    const auto token = [&](const Tensor& t, int64_t s) {
      return t.data<float>() + (b * S + s) * row + h * D;
    };
    for (int64_t i = 0; i < N; ++i) {
      const int32_t* list = lists.data<int32_t>() + (bh * N + i) * L;
      int64_t keys = 0;
      for (int64_t n = 0; n < L; ++n) {
        const int32_t j = list[n];
        if (j < 0) continue;
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
      const Tensor o =
          attention(qf.slice(1, 0, rows), kf.slice(1, 0, keys), vf.slice(1, 0, keys), scale);
      for (int32_t r = 0; r < rows; ++r)
        std::copy_n(
            o.data<float>() + r * D, D,
            out.data<float>() + (b * S + tiling.token_of_slot[size_t(i * T + r)]) * row + h * D);
    }
  }
  return out;
}

}  // namespace fastvideo::ops::cpu
