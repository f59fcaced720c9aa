#include "ops/tile_lists.h"

#include <algorithm>
#include <vector>

#include "fastvideo/error.h"

namespace fastvideo {

void check_tile_lists(const Tensor& lists, int64_t num_tiles, const char* what) {
  const int64_t N = num_tiles;
  FV_CHECK(lists.dtype() == DType::I32 && lists.device().is_cpu() && lists.ndim() == 4 &&
               lists.size(2) == N && lists.is_contiguous(),
           what, ": tile lists must be contiguous I32 [B, H, ", N, ", L] on the cpu, got ",
           lists.describe());
  const int64_t rows = lists.size(0) * lists.size(1) * N, L = lists.size(3);
  std::vector<int32_t> tiles;
  for (int64_t r = 0; r < rows; ++r) {
    tiles.clear();
    for (int64_t j = 0; j < L; ++j) {
      const int32_t tile = lists.data<int32_t>()[r * L + j];
      if (tile < 0) continue;
      FV_CHECK(tile < N, what, ": query tile ", r % N, " names key tile ", tile, ", outside 0 .. ",
               N - 1);
      tiles.push_back(tile);
    }
    FV_CHECK(!tiles.empty(), what, ": query tile ", r % N, " (batch ", r / N / lists.size(1),
             ", head ", r / N % lists.size(1), ") names no key tile");
    std::sort(tiles.begin(), tiles.end());
    const auto twice = std::adjacent_find(tiles.begin(), tiles.end());
    FV_CHECK(twice == tiles.end(), what, ": query tile ", r % N, " names key tile ", *twice,
             " twice");
  }
}

}  // namespace fastvideo
