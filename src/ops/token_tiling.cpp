#include "ops/token_tiling.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

std::shared_ptr<const TokenTiling> build_tiling(std::array<int64_t, 3> grid,
                                                std::array<int64_t, 3> box) {
  auto t = std::make_shared<TokenTiling>();
  t->grid = grid;
  t->box = box;
  for (int a = 0; a < 3; ++a) t->tiles[a] = (grid[a] + box[a] - 1) / box[a];
  t->num_tiles = t->tiles[0] * t->tiles[1] * t->tiles[2];
  t->tile_slots = box[0] * box[1] * box[2];
  t->padded_len = t->num_tiles * t->tile_slots;
  t->tokens = grid[0] * grid[1] * grid[2];
  t->tile_sizes.resize(size_t(t->num_tiles));
  t->token_of_slot.assign(size_t(t->padded_len), -1);
  t->slot_of_token.resize(size_t(t->tokens));
  int64_t tile = 0;
  for (int64_t tt = 0; tt < t->tiles[0]; ++tt)
    for (int64_t th = 0; th < t->tiles[1]; ++th)
      for (int64_t tw = 0; tw < t->tiles[2]; ++tw, ++tile) {
        int64_t slot = tile * t->tile_slots;
        const int64_t t1 = std::min(grid[0], (tt + 1) * box[0]);
        const int64_t h1 = std::min(grid[1], (th + 1) * box[1]);
        const int64_t w1 = std::min(grid[2], (tw + 1) * box[2]);
        for (int64_t z = tt * box[0]; z < t1; ++z)
          for (int64_t y = th * box[1]; y < h1; ++y)
            for (int64_t x = tw * box[2]; x < w1; ++x, ++slot) {
              const int64_t token = (z * grid[1] + y) * grid[2] + x;
              t->token_of_slot[size_t(slot)] = int32_t(token);
              t->slot_of_token[size_t(token)] = int32_t(slot);
            }
        t->tile_sizes[size_t(tile)] = int32_t(slot - tile * t->tile_slots);
      }
  return t;
}

// The same tiling over the sequence in tile order: each tile's valid tokens, in slot order, on
// consecutive rows.
std::shared_ptr<const TokenTiling> in_tile_order(const TokenTiling& raster) {
  auto t = std::make_shared<TokenTiling>(raster);
  t->tile_order = true;
  t->token_of_row.resize(size_t(t->tokens));
  t->row_of_token.resize(size_t(t->tokens));
  t->tile_starts.resize(size_t(t->num_tiles));
  int32_t row = 0;
  for (int64_t slot = 0; slot < t->padded_len; ++slot) {
    if (slot % t->tile_slots == 0) t->tile_starts[size_t(slot / t->tile_slots)] = row;
    const int32_t token = raster.token_of_slot[size_t(slot)];
    if (token < 0) continue;
    t->token_of_row[size_t(row)] = token;
    t->row_of_token[size_t(token)] = row;
    t->token_of_slot[size_t(slot)] = row;
    t->slot_of_token[size_t(row)] = int32_t(slot);
    ++row;
  }
  return t;
}

}  // namespace

std::array<int64_t, 3> TokenTiling::coords(int64_t tile) const {
  return {tile / (tiles[1] * tiles[2]), tile / tiles[2] % tiles[1], tile % tiles[2]};
}

std::shared_ptr<const TokenTiling> TokenTiling::for_grid(std::array<int64_t, 3> grid,
                                                         std::array<int64_t, 3> box,
                                                         const char* what, bool tile_order) {
  for (int a = 0; a < 3; ++a)
    FV_CHECK(grid[a] > 0, what, ": token grid [", grid[0], ", ", grid[1], ", ", grid[2],
             "] has an empty axis");
  FV_CHECK(grid[0] * grid[1] * grid[2] < (int64_t(1) << 30), what, ": token grid [", grid[0], ", ",
           grid[1], ", ", grid[2], "] has more than 2^30 tokens");
  static std::mutex mutex;
  static std::map<std::tuple<std::array<int64_t, 3>, std::array<int64_t, 3>, bool>,
                  std::shared_ptr<const TokenTiling>>
      cache;
  std::lock_guard lock(mutex);
  auto& raster = cache[{grid, box, false}];
  if (!raster) raster = build_tiling(grid, box);
  if (!tile_order) return raster;
  auto& ordered = cache[{grid, box, true}];
  if (!ordered) ordered = in_tile_order(*raster);
  return ordered;
}

}  // namespace fastvideo
