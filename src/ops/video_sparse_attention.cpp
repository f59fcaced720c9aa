#include "ops/video_sparse_attention.h"

#include <algorithm>
#include <cmath>

#include "fastvideo/error.h"
#include "ops/dispatch.h"

namespace fastvideo {

std::shared_ptr<const VsaTiling> vsa_tiling_for(std::array<int64_t, 3> grid, bool tile_order) {
  return TokenTiling::for_grid(grid, {kVsaTileEdge, kVsaTileEdge, kVsaTileEdge},
                               "VIDEO_SPARSE_ATTN", tile_order);
}

int64_t vsa_topk(double sparsity, int64_t num_tiles) {
  FV_CHECK(sparsity >= 0 && sparsity < 1, "VSA_sparsity ", sparsity, " is outside [0, 1)");
  const auto k = int64_t(std::ceil((1.0 - sparsity) * double(num_tiles)));
  return std::max<int64_t>(1, std::min(k, num_tiles));
}

namespace ops {

void check_video_sparse_attention_inputs(const Tensor& q, const Tensor& k, const Tensor& v,
                                         const Tensor& gate, const VsaTiling& tiling,
                                         int64_t topk) {
  FV_CHECK(q.ndim() == 4, "VIDEO_SPARSE_ATTN: q must be [B, S, H, D], got ", q.describe());
  FV_CHECK(k.shape() == q.shape() && v.shape() == q.shape(),
           "VIDEO_SPARSE_ATTN runs self-attention only: q, k and v must have one shape, got q ",
           q.describe(), ", k ", k.describe(), ", v ", v.describe());
  FV_CHECK(q.size(1) == tiling.tokens, "VIDEO_SPARSE_ATTN: q has ", q.size(1),
           " tokens but the token grid [", tiling.grid[0], ", ", tiling.grid[1], ", ",
           tiling.grid[2], "] has ", tiling.tokens);
  FV_CHECK(!gate.defined() || gate.shape() == q.shape(), "VIDEO_SPARSE_ATTN: gate must be ",
           q.describe(), " like q, got ", gate.describe());
  FV_CHECK(topk >= 1 && topk <= tiling.num_tiles, "VIDEO_SPARSE_ATTN: top-k ", topk,
           " is outside [1, ", tiling.num_tiles, "]");
  for (const Tensor* t : {&k, &v, &gate}) {
    FV_CHECK(!t->defined() || (t->device() == q.device() && t->dtype() == q.dtype()),
             "VIDEO_SPARSE_ATTN: q, k, v and gate must share device and dtype, got q ",
             q.describe(), " and ", t->describe());
  }
}

Tensor video_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& gate,
                              const VsaTiling& tiling, int64_t topk, float scale,
                              VsaSelection* selection) {
  check_video_sparse_attention_inputs(q, k, v, gate, tiling, topk);
  if (q.numel() == 0) {
    // No batch items or heads: nothing to attend to, and no GPU kernel takes an empty grid.
    const int64_t B = q.size(0), H = q.size(2), N = tiling.num_tiles;
    if (selection) {
      *selection = {Tensor::empty({B, H, N, N}, DType::F32, q.device()),
                    Tensor::empty({B, H, N, topk}, DType::I32, q.device())};
    }
    return Tensor::empty(q.shape(), q.dtype(), q.device());
  }
  return FV_DISPATCH(q.device(),
                     video_sparse_attention(q, k, v, gate, tiling, topk, scale, selection));
}

}  // namespace ops
}  // namespace fastvideo
