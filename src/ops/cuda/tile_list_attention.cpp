// Tile-list attention (STA's windows, VMoBA's chunks) on a GPU, on kernels that exist:
//  - Hopper (sm_90): queries gathered into 128-row blocks per group of tiles with the same lists
//    and keys packed tile after tile (ops/tile_runs.h), each list turned into runs of consecutive
//    keys, the dense FLASH_ATTN kernel walking those runs (key_runs_attention.h) and writing each
//    row to its raster position;
//  - Portable (sm_80+): the tiles' 64-token blocks (ops/tile_blocks.h) gathered into tiled copies,
//    each query block over its expanded key-block list on the portable block-sparse kernel
//    (masking each block's padding), one gather back.
#include <list>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/device_tile_blocks.h"
#include "ops/cuda/key_runs_attention.h"
#include "ops/cuda/row_gather.h"
#include "ops/cuda/vsa_fine_stage.h"
#include "ops/cuda/vsa_kernels.h"
#include "ops/tile_blocks.h"
#include "ops/tile_list_self_attention.h"
#include "ops/tile_runs.h"

namespace fastvideo::ops::cuda {

namespace {

// What a route derives from the lists (key-block lists, or key runs and their layout), on the
// device. STA's lists repeat across layers and steps (one window set per head and layer), so they
// are kept, least recently used first out, within a budget of device memory; VMoBA's change every
// call and age out. Value: a struct of Tensors with nbytes().
template <class Value, class Derive>
Value derived_from_lists(const void* layout, const Tensor& lists, Device device, Derive&& derive) {
  constexpr size_t kBudget = size_t(256) << 20;
  using Key = std::tuple<const void*, int, Shape, std::vector<int32_t>>;
  static std::mutex mutex;
  static std::list<std::pair<Key, Value>> recent;  // most recent first
  static size_t held = 0;
  const int32_t* values = lists.data<int32_t>();
  Key key{layout, device.index, lists.shape(),
          std::vector<int32_t>(values, values + lists.numel())};
  std::lock_guard lock(mutex);
  for (auto it = recent.begin(); it != recent.end(); ++it) {
    if (it->first == key) {
      recent.splice(recent.begin(), recent, it);
      return it->second;
    }
  }
  Value derived = derive();
  held += derived.nbytes();
  recent.emplace_front(std::move(key), derived);
  while (held > kBudget && recent.size() > 1) {
    held -= recent.back().second.nbytes();
    recent.pop_back();
  }
  return derived;
}

struct KeyRuns {
  DeviceTileRuns layout;    // grouped by the lists
  bool own_layout = false;  // else for_tiling's, kept elsewhere
  Tensor runs, counts;
  int key_step = 176;
  size_t nbytes() const {
    return runs.nbytes() + counts.nbytes() + (own_layout ? layout.nbytes() : 0);
  }
};

Tensor hopper_route(const Tensor& q, const Tensor& k, const Tensor& v, const TokenTiling& tiling,
                    const Tensor& lists, float scale) {
  // Keyed by the ungrouped layout, cached per grid and box as the tiling is.
  const KeyRuns r =
      derived_from_lists<KeyRuns>(TileRuns::for_tiling(tiling).get(), lists, q.device(), [&] {
        const auto layout = TileRuns::grouped(tiling, same_list_groups(lists));
        KeyRuns derived;
        derived.own_layout = layout != TileRuns::for_tiling(tiling);
        derived.layout = derived.own_layout ? upload_tile_runs(*layout, q.device())
                                            : device_tile_runs(tiling, q.device());
        auto [runs, counts] = tile_list_runs(*layout, lists);
        derived.key_step = best_key_step(runs, counts);
        derived.runs = runs.to(q.device());
        derived.counts = counts.to(q.device());
        return derived;
      });
  return tile_runs_attention(q, k, v, r.layout, r.runs, r.counts, r.key_step, scale);
}

struct KeyBlocks {
  Tensor selected;
  size_t nbytes() const { return selected.nbytes(); }
};

Tensor portable_route(const Tensor& q, const Tensor& k, const Tensor& v, const TokenTiling& tiling,
                      const Tensor& lists, float scale, cudaStream_t stream) {
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const std::shared_ptr<const TileBlocks> blocks = TileBlocks::for_tiling(tiling);
  const int64_t Nb = blocks->num_blocks, real = Nb - 1, rows = TileBlocks::kBlock * Nb;
  const DeviceTileBlocks& db = device_tile_blocks(*blocks, q.device());
  const Tensor selected = derived_from_lists<KeyBlocks>(blocks.get(), lists, q.device(), [&] {
                            return KeyBlocks{expand_tile_lists(*blocks, lists).to(q.device())};
                          }).selected;

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
          means.data<float>(), DType::F32, stream);
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

}  // namespace

bool hopper_tile_lists_here(Device device) {
  const CudaDeviceInfo& info = CudaContext::get(device.index).info();
  return info.major == 9 && info.minor == 0;
}

Tensor tile_runs_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const DeviceTileRuns& dl, const Tensor& runs, const Tensor& run_counts,
                           int key_step, float scale) {
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const cudaStream_t stream = use_cuda_device(q.device().index).stream();
  const int64_t rows = TileRuns::kQueryBlock * dl.query_blocks;
  const int64_t row_bytes = H * D * int64_t(sizeof(uint16_t));
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  Tensor tiled_q = Tensor::empty({B, rows, H, D}, DType::BF16, q.device());
  gather_rows(qc.raw_data(), S, dl.token_of_query_row.data<int32_t>(), rows, B, row_bytes,
              tiled_q.raw_data(), stream);
  Tensor packed[2];
  const Tensor* kv[2] = {&kc, &vc};
  for (int x = 0; x < 2; ++x) {
    packed[x] = Tensor::empty({B, S, H, D}, DType::BF16, q.device());
    gather_rows(kv[x]->raw_data(), S, dl.token_of_key_row.data<int32_t>(), S, B, row_bytes,
                packed[x].raw_data(), stream);
  }
  Tensor out = Tensor::empty({B, S, H, D}, DType::BF16, q.device());
  hopper_key_runs_attention(tiled_q, packed[0], packed[1], dl.tile_of_query_block,
                            dl.token_of_query_row, runs, run_counts, key_step, scale, out);
  return out;
}

Tensor tile_list_attention_with(BlockSparseKernel kernel, const Tensor& q, const Tensor& k,
                                const Tensor& v, const TokenTiling& tiling, const Tensor& lists,
                                float scale) {
  FV_CHECK(q.dtype() == DType::BF16 && q.size(3) == 128,
           "on a GPU the tile-list kernel takes BF16 q, k, v with head_dim 128, got q ",
           q.describe());
  CudaContext& ctx = use_cuda_device(q.device().index);
  const bool hopper_here = hopper_tile_lists_here(q.device());
  if (kernel == BlockSparseKernel::Automatic)
    kernel = hopper_here ? BlockSparseKernel::Hopper : BlockSparseKernel::Portable;
  FV_CHECK(kernel != BlockSparseKernel::Hopper || hopper_here,
           "tile-list attention: the Hopper kernel needs an sm_90 GPU, not ", ctx.info().name);
  return kernel == BlockSparseKernel::Hopper
             ? hopper_route(q, k, v, tiling, lists, scale)
             : portable_route(q, k, v, tiling, lists, scale, ctx.stream());
}

Tensor tile_list_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                           const TokenTiling& tiling, const Tensor& lists, float scale) {
  return tile_list_attention_with(BlockSparseKernel::Automatic, q, k, v, tiling, lists, scale);
}

}  // namespace fastvideo::ops::cuda
