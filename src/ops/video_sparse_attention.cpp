#include "ops/video_sparse_attention.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "fastvideo/error.h"
#include "ops/dispatch.h"

namespace fastvideo {

namespace {

std::shared_ptr<const VsaTiling> build_tiling(std::array<int64_t, 3> grid) {
  auto t = std::make_shared<VsaTiling>();
  t->grid = grid;
  for (int a = 0; a < 3; ++a) t->tiles[a] = (grid[a] + kVsaTileEdge - 1) / kVsaTileEdge;
  t->num_tiles = t->tiles[0] * t->tiles[1] * t->tiles[2];
  t->padded_len = t->num_tiles * kVsaTileTokens;
  t->tokens = grid[0] * grid[1] * grid[2];
  t->tile_sizes.resize(size_t(t->num_tiles));
  t->token_of_slot.assign(size_t(t->padded_len), -1);
  t->slot_of_token.resize(size_t(t->tokens));
  int64_t tile = 0;
  for (int64_t tt = 0; tt < t->tiles[0]; ++tt)
    for (int64_t th = 0; th < t->tiles[1]; ++th)
      for (int64_t tw = 0; tw < t->tiles[2]; ++tw, ++tile) {
        int64_t slot = tile * kVsaTileTokens;
        const int64_t t1 = std::min(grid[0], (tt + 1) * kVsaTileEdge);
        const int64_t h1 = std::min(grid[1], (th + 1) * kVsaTileEdge);
        const int64_t w1 = std::min(grid[2], (tw + 1) * kVsaTileEdge);
        for (int64_t z = tt * kVsaTileEdge; z < t1; ++z)
          for (int64_t y = th * kVsaTileEdge; y < h1; ++y)
            for (int64_t x = tw * kVsaTileEdge; x < w1; ++x, ++slot) {
              const int64_t token = (z * grid[1] + y) * grid[2] + x;
              t->token_of_slot[size_t(slot)] = int32_t(token);
              t->slot_of_token[size_t(token)] = int32_t(slot);
            }
        t->tile_sizes[size_t(tile)] = int32_t(slot - tile * kVsaTileTokens);
      }
  return t;
}

}  // namespace

std::shared_ptr<const VsaTiling> VsaTiling::for_grid(std::array<int64_t, 3> grid) {
  for (int a = 0; a < 3; ++a)
    FV_CHECK(grid[a] > 0, "VIDEO_SPARSE_ATTN: token grid [", grid[0], ", ", grid[1], ", ", grid[2],
             "] has an empty axis");
  FV_CHECK(grid[0] * grid[1] * grid[2] < (int64_t(1) << 30), "VIDEO_SPARSE_ATTN: token grid [",
           grid[0], ", ", grid[1], ", ", grid[2], "] has more than 2^30 tokens");
  static std::mutex mutex;
  static std::map<std::array<int64_t, 3>, std::shared_ptr<const VsaTiling>> cache;
  std::lock_guard lock(mutex);
  auto& entry = cache[grid];
  if (!entry) entry = build_tiling(grid);
  return entry;
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

Tensor video_sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& gate, const VsaTiling& tiling, int64_t topk,
                              float scale, VsaSelection* selection) {
  check_video_sparse_attention_inputs(q, k, v, gate, tiling, topk);
  return FV_DISPATCH(q.device(),
                     video_sparse_attention(q, k, v, gate, tiling, topk, scale, selection));
}

}  // namespace ops
}  // namespace fastvideo
