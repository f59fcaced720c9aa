#include "ops/tile_runs.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>

#include "fastvideo/error.h"
#include "ops/tile_lists.h"

namespace fastvideo {

namespace {

std::shared_ptr<const TileRuns> build_runs(const TokenTiling& tiling,
                                           const std::vector<int32_t>& group) {
  constexpr int64_t kBlock = TileRuns::kQueryBlock;
  const int64_t N = tiling.num_tiles;
  auto l = std::make_shared<TileRuns>();
  l->tokens = tiling.tokens;
  const auto tokens_of = [&](int64_t t) {
    const int32_t* first = tiling.token_of_slot.data() + t * tiling.tile_slots;
    return std::vector<int32_t>(first, first + tiling.tile_sizes[size_t(t)]);
  };
  l->key_offset.push_back(0);
  for (int64_t t = 0; t < N; ++t) {
    for (const int32_t token : tokens_of(t)) l->token_of_key_row.push_back(token);
    l->key_offset.push_back(int32_t(l->token_of_key_row.size()));
  }
  for (int64_t g = 0; g < N; ++g) {
    if (!group.empty() && group[size_t(g)] != g) continue;  // not a group's first tile
    const int64_t first_row = int64_t(l->token_of_query_row.size());
    for (int64_t t = g; t < N; ++t) {
      if (t != g && (group.empty() || group[size_t(t)] != g)) continue;
      for (const int32_t token : tokens_of(t)) l->token_of_query_row.push_back(token);
    }
    const int64_t blocks =
        (int64_t(l->token_of_query_row.size()) - first_row + kBlock - 1) / kBlock;
    l->token_of_query_row.resize(size_t(first_row + blocks * kBlock), -1);
    l->tile_of_query_block.insert(l->tile_of_query_block.end(), size_t(blocks), int32_t(g));
  }
  l->query_blocks = int64_t(l->tile_of_query_block.size());
  return l;
}

}  // namespace

std::shared_ptr<const TileRuns> TileRuns::for_tiling(const TokenTiling& tiling) {
  static std::mutex mutex;
  static std::map<std::tuple<std::array<int64_t, 3>, std::array<int64_t, 3>, bool>,
                  std::shared_ptr<const TileRuns>>
      cache;
  std::lock_guard lock(mutex);
  auto& entry = cache[{tiling.grid, tiling.box, tiling.tile_order}];
  if (!entry) entry = build_runs(tiling, {});
  return entry;
}

std::shared_ptr<const TileRuns> TileRuns::grouped(const TokenTiling& tiling,
                                                  const std::vector<int32_t>& group) {
  FV_CHECK(int64_t(group.size()) == tiling.num_tiles, "tile runs: a grouping of ", group.size(),
           " tiles for ", tiling.num_tiles);
  bool one_per_tile = true;
  for (size_t t = 0; t < group.size(); ++t) {
    FV_CHECK(group[t] >= 0 && size_t(group[t]) <= t && group[size_t(group[t])] == group[t],
             "tile runs: tile ", t, "'s group ", group[t], " is not a group's lowest tile");
    one_per_tile = one_per_tile && size_t(group[t]) == t;
  }
  return one_per_tile ? for_tiling(tiling) : build_runs(tiling, group);
}

std::vector<int32_t> same_list_groups(const Tensor& lists) {
  FV_CHECK(lists.dtype() == DType::I32 && lists.device().is_cpu() && lists.ndim() == 4 &&
               lists.is_contiguous(),
           "tile lists must be contiguous I32 [B, H, N, L] on the cpu, got ", lists.describe());
  const int64_t rows = lists.size(0) * lists.size(1), N = lists.size(2), L = lists.size(3);
  // Each tile's lists over all (batch, head) rows, sorted within a row: equal ones group.
  std::map<std::vector<int32_t>, int32_t> first_with;
  std::vector<int32_t> group(static_cast<size_t>(N));
  std::vector<int32_t> signature;
  for (int64_t t = 0; t < N; ++t) {
    signature.clear();
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t* row = lists.data<int32_t>() + (r * N + t) * L;
      const size_t from = signature.size();
      for (int64_t j = 0; j < L; ++j)
        if (row[j] >= 0) signature.push_back(row[j]);
      std::sort(signature.begin() + std::ptrdiff_t(from), signature.end());
      signature.push_back(-1);  // row separator
    }
    group[size_t(t)] = first_with.try_emplace(signature, int32_t(t)).first->second;
  }
  return group;
}

std::pair<Tensor, Tensor> tile_list_runs(const TileRuns& layout, const Tensor& lists) {
  const int64_t N = int64_t(layout.key_offset.size()) - 1;
  check_tile_lists(lists, N, "tile-list runs");
  const int64_t rows = lists.size(0) * lists.size(1) * N, L = lists.size(3);
  const int32_t* in = lists.data<int32_t>();
  // Each row's runs as tile ranges [first, last], then the most runs of any row.
  std::vector<std::vector<std::pair<int32_t, int32_t>>> ranges(static_cast<size_t>(rows));
  std::vector<int32_t> tiles;
  size_t most = 1;
  for (int64_t r = 0; r < rows; ++r) {
    tiles.clear();
    for (int64_t j = 0; j < L; ++j) {
      const int32_t tile = in[r * L + j];
      if (tile >= 0) tiles.push_back(tile);
    }
    std::sort(tiles.begin(), tiles.end());
    auto& row = ranges[size_t(r)];
    for (const int32_t tile : tiles) {
      if (!row.empty() && tile == row.back().second + 1)
        row.back().second = tile;
      else
        row.emplace_back(tile, tile);
    }
    most = std::max(most, row.size());
  }
  const int64_t R = int64_t(most);
  Tensor runs = Tensor::zeros({lists.size(0), lists.size(1), N, R, 2}, DType::I32);
  Tensor counts = Tensor::empty({lists.size(0), lists.size(1), N}, DType::I32);
  int32_t* run = runs.data<int32_t>();
  int32_t* count = counts.data<int32_t>();
  for (int64_t r = 0; r < rows; ++r) {
    const auto& row = ranges[size_t(r)];
    count[r] = int32_t(row.size());
    for (size_t i = 0; i < row.size(); ++i) {
      run[(r * R + int64_t(i)) * 2] = layout.key_offset[size_t(row[i].first)];
      run[(r * R + int64_t(i)) * 2 + 1] = layout.key_offset[size_t(row[i].second) + 1];
    }
  }
  return {runs, counts};
}

}  // namespace fastvideo
