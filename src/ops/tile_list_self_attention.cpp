#include "ops/tile_list_self_attention.h"

#include "fastvideo/error.h"
#include "ops/cpu/tile_list_attention.h"
#include "ops/dispatch.h"

namespace fastvideo::ops {

void check_tiled_self_attention(std::string_view backend, const Tensor& q, const Tensor& k,
                                const Tensor& v, const TokenTiling& tiling) {
  FV_CHECK(q.ndim() == 4, backend, ": q must be [B, S, H, D], got ", q.describe());
  FV_CHECK(k.shape() == q.shape() && v.shape() == q.shape(), backend,
           " runs self-attention only: q, k and v must have one shape, got q ", q.describe(),
           ", k ", k.describe(), ", v ", v.describe());
  FV_CHECK(q.size(1) == tiling.tokens, backend, ": q has ", q.size(1),
           " tokens but the token grid [", tiling.grid[0], ", ", tiling.grid[1], ", ",
           tiling.grid[2], "] has ", tiling.tokens);
  for (const Tensor* t : {&k, &v}) {
    FV_CHECK(t->device() == q.device() && t->dtype() == q.dtype(), backend,
             ": q, k and v must share device and dtype, got q ", q.describe(), " and ",
             t->describe());
  }
}

Tensor tile_list_self_attention(std::string_view backend, const Tensor& q, const Tensor& k,
                                const Tensor& v, const TokenTiling& tiling, const Tensor& lists,
                                float scale) {
  check_tiled_self_attention(backend, q, k, v, tiling);
  FV_CHECK(lists.dtype() == DType::I32 && lists.device().is_cpu() && lists.is_contiguous() &&
               lists.ndim() == 4 && lists.size(0) == q.size(0) && lists.size(1) == q.size(2) &&
               lists.size(2) == tiling.num_tiles,
           backend, ": the tile lists must be contiguous I32 [", q.size(0), ", ", q.size(2), ", ",
           tiling.num_tiles, ", L] on the cpu (batch, heads, tiles), got ", lists.describe());
  // No batch items or heads: nothing to attend to, and no GPU kernel takes an empty grid.
  if (q.numel() == 0) return Tensor::empty(q.shape(), q.dtype(), q.device());
  if (!q.device().is_cpu()) {
#ifdef FASTVIDEO_HAVE_CUDA
    try {
      return cuda::tile_list_attention(q, k, v, tiling, lists, scale);
    } catch (const Error& e) {
      e.rethrow_with_context(std::string(backend));
    }
#else
    fail_without_cuda(q.device());
#endif
  }
  const Tensor out = cpu::tile_list_attention(q.to(DType::F32), k.to(DType::F32), v.to(DType::F32),
                                              tiling, lists, scale);
  return out.to(q.dtype());
}

}  // namespace fastvideo::ops
