#include "ops/tile_blocks.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>

#include "ops/tile_lists.h"

namespace fastvideo {

namespace {

std::shared_ptr<const TileBlocks> build_blocks(const TokenTiling& tiling) {
  constexpr int64_t kBlock = TileBlocks::kBlock;
  auto b = std::make_shared<TileBlocks>();
  b->tokens = tiling.tokens;
  b->slot_of_token.resize(size_t(tiling.tokens));
  for (int64_t t = 0; t < tiling.num_tiles; ++t) {
    b->first_block.push_back(int32_t(b->block_sizes.size()));
    const int64_t size = tiling.tile_sizes[size_t(t)];
    for (int64_t r = 0; r < size; ++r) {
      if (r % kBlock == 0) {
        b->block_sizes.push_back(int32_t(std::min(kBlock, size - r)));
        b->token_of_slot.resize(b->token_of_slot.size() + kBlock, -1);
      }
      const int32_t token = tiling.token_of_slot[size_t(t * tiling.tile_slots + r)];
      const size_t slot = b->token_of_slot.size() - kBlock + size_t(r % kBlock);
      b->token_of_slot[slot] = token;
      b->slot_of_token[size_t(token)] = int32_t(slot);
    }
  }
  b->first_block.push_back(int32_t(b->block_sizes.size()));
  b->block_sizes.push_back(0);  // the empty block
  b->token_of_slot.resize(b->token_of_slot.size() + kBlock, -1);
  b->num_blocks = int64_t(b->block_sizes.size());
  return b;
}

}  // namespace

std::shared_ptr<const TileBlocks> TileBlocks::for_tiling(const TokenTiling& tiling) {
  static std::mutex mutex;
  static std::map<std::tuple<std::array<int64_t, 3>, std::array<int64_t, 3>, bool>,
                  std::shared_ptr<const TileBlocks>>
      cache;
  std::lock_guard lock(mutex);
  auto& entry = cache[{tiling.grid, tiling.box, tiling.tile_order}];
  if (!entry) entry = build_blocks(tiling);
  return entry;
}

Tensor expand_tile_lists(const TileBlocks& blocks, const Tensor& lists) {
  const int64_t N = int64_t(blocks.first_block.size()) - 1;
  check_tile_lists(lists, N, "tile-list blocks");
  const int64_t rows = lists.size(0) * lists.size(1), L = lists.size(3);
  const int32_t* in = lists.data<int32_t>();
  auto blocks_of = [&](int32_t tile) {
    return blocks.first_block[size_t(tile) + 1] - blocks.first_block[size_t(tile)];
  };
  int64_t longest = 1;
  for (int64_t r = 0; r < rows * N; ++r) {
    int64_t n = 0;
    for (int64_t j = 0; j < L; ++j)
      if (in[r * L + j] >= 0) n += blocks_of(in[r * L + j]);
    longest = std::max(longest, n);
  }
  const int64_t Nb = blocks.num_blocks;
  Tensor out = Tensor::empty({lists.size(0), lists.size(1), Nb, longest}, DType::I32);
  int32_t* dst = out.data<int32_t>();
  std::fill(dst, dst + out.numel(), int32_t(blocks.empty_block()));
  for (int64_t r = 0; r < rows; ++r) {
    int32_t* rows_out = dst + r * Nb * longest;
    for (int64_t t = 0; t < N; ++t) {
      // The list of tile t's first block; its other blocks get the same.
      int32_t* first = rows_out + int64_t(blocks.first_block[size_t(t)]) * longest;
      int64_t n = 0;
      for (int64_t j = 0; j < L; ++j) {
        const int32_t key = in[(r * N + t) * L + j];
        if (key < 0) continue;
        for (int32_t kb = blocks.first_block[size_t(key)]; kb < blocks.first_block[size_t(key) + 1];
             ++kb)
          first[n++] = kb;
      }
      for (int32_t qb = blocks.first_block[size_t(t)] + 1; qb < blocks.first_block[size_t(t) + 1];
           ++qb)
        std::copy_n(first, longest, rows_out + int64_t(qb) * longest);
    }
    rows_out[blocks.empty_block() * longest] = 0;
  }
  return out;
}

}  // namespace fastvideo
