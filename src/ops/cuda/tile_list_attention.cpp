// Tile-list attention (STA's windows) on a GPU, on kernels that exist: the tiles' 64-token blocks
// (ops/tile_blocks.h) are gathered into tiled copies by VSA's tiling kernel, each query block
// attends to its expanded key-block list through the portable block-sparse kernel (masking each
// block's padding), and one gather puts the rows back in raster order.
#include <list>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/device_tile_blocks.h"
#include "ops/cuda/vsa_fine_stage.h"
#include "ops/cuda/vsa_kernels.h"
#include "ops/tile_blocks.h"
#include "ops/tile_list_self_attention.h"

namespace fastvideo::ops::cuda {

namespace {

// The expanded key-block lists on the device. STA's lists repeat across layers and steps (one
// window set per head and layer), so they are kept, least recently used first out, within a
// budget of device memory; VMoBA's change every call and age out.
Tensor device_block_lists(const TileBlocks& blocks, const Tensor& lists, Device device) {
  constexpr size_t kBudget = size_t(256) << 20;
  using Key = std::tuple<const TileBlocks*, int, Shape, std::vector<int32_t>>;
  static std::mutex mutex;
  static std::list<std::pair<Key, Tensor>> recent;  // most recent first
  static size_t held = 0;
  const int32_t* values = lists.data<int32_t>();
  Key key{&blocks, device.index, lists.shape(),
          std::vector<int32_t>(values, values + lists.numel())};
  std::lock_guard lock(mutex);
  for (auto it = recent.begin(); it != recent.end(); ++it) {
    if (it->first == key) {
      recent.splice(recent.begin(), recent, it);
      return it->second;
    }
  }
  const Tensor expanded = expand_tile_lists(blocks, lists).to(device);
  recent.emplace_front(std::move(key), expanded);
  held += expanded.nbytes();
  while (held > kBudget && recent.size() > 1) {
    held -= recent.back().second.nbytes();
    recent.pop_back();
  }
  return expanded;
}

}  // namespace

Tensor tile_list_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const TokenTiling& tiling, const Tensor& lists, float scale) {
  FV_CHECK(q.dtype() == DType::BF16 && q.size(3) == 128,
           "on a GPU the tile-list kernel takes BF16 q, k, v with head_dim 128, got q ",
           q.describe());
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const std::shared_ptr<const TileBlocks> blocks = TileBlocks::for_tiling(tiling);
  const int64_t Nb = blocks->num_blocks, real = Nb - 1, rows = TileBlocks::kBlock * Nb;
  const DeviceTileBlocks& db = device_tile_blocks(*blocks, q.device());
  const Tensor selected = device_block_lists(*blocks, lists, q.device());
  CudaContext& ctx = use_cuda_device(q.device().index);
  const cudaStream_t stream = ctx.stream();

  // Tiled copies, a batch at a time (each batch's layout ends with the empty block): the real
  // blocks from VSA's tiling kernel, the empty block zeroed (its rows are the empty query block's
  // queries, whose output is dropped). The block means that kernel also writes are not used here.
  Tensor tiled[3];
  const Tensor inputs[3] = {q.contiguous(), k.contiguous(), v.contiguous()};
  Tensor means = Tensor::empty({1, real, H, D}, DType::F32, q.device());
  const size_t row_bytes = size_t(H * D) * sizeof(uint16_t);
  for (int x = 0; x < 3; ++x) {
    tiled[x] = Tensor::empty({B, rows, H, D}, DType::BF16, q.device());
    for (int64_t b = 0; b < B; ++b) {
      char* batch_rows = static_cast<char*>(tiled[x].raw_data()) + size_t(b * rows) * row_bytes;
      vsa_tile_with_means(
          static_cast<const char*>(inputs[x].raw_data()) + size_t(b * S) * row_bytes, 1, S, H, D,
          real, db.token_of_slot.data<int32_t>(), db.block_sizes.data<int32_t>(), batch_rows,
          means.data<float>(), stream);
      FV_CUDA_CHECK(cudaMemsetAsync(batch_rows + size_t(TileBlocks::kBlock * real) * row_bytes, 0,
                                    size_t(TileBlocks::kBlock) * row_bytes, stream));
    }
  }
  Tensor fine = Tensor::empty({B, rows, H, D}, DType::BF16, q.device());
  portable_block_sparse_attention(tiled[0], tiled[1], tiled[2], selected, db.block_sizes, scale,
                                  fine);
  Tensor out = Tensor::empty({B, S, H, D}, DType::BF16, q.device());
  vsa_untile_combine(fine.raw_data(), nullptr, nullptr, db.slot_of_token.data<int32_t>(), B, S, H,
                     D, Nb, out.raw_data(), stream);
  return out;
}

}  // namespace fastvideo::ops::cuda
