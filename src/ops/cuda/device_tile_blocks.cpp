#include "ops/cuda/device_tile_blocks.h"

#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace fastvideo::ops::cuda {

namespace {

template <class T>
Tensor upload(const std::vector<T>& values, Shape shape, DType dtype, Device device) {
  Tensor host = Tensor::empty(std::move(shape), dtype);
  std::memcpy(host.raw_data(), values.data(), host.nbytes());
  return host.to(device);
}

Tensor upload(const std::vector<int32_t>& values, Device device) {
  return upload(values, {int64_t(values.size())}, DType::I32, device);
}

}  // namespace

const DeviceTileBlocks& device_tile_blocks(const TileBlocks& blocks, Device device) {
  static std::mutex mutex;
  static std::map<std::pair<const TileBlocks*, int>, DeviceTileBlocks> cache;
  std::lock_guard lock(mutex);
  DeviceTileBlocks& entry = cache[{&blocks, device.index}];
  if (entry.block_sizes.defined()) return entry;
  const int64_t N = int64_t(blocks.first_block.size()) - 1, real = blocks.num_blocks - 1;
  std::vector<float> averaging(size_t(N * real), 0.f);
  for (int64_t t = 0; t < N; ++t) {
    const int32_t first = blocks.first_block[size_t(t)], end = blocks.first_block[size_t(t) + 1];
    int64_t tokens = 0;
    for (int32_t j = first; j < end; ++j) tokens += blocks.block_sizes[size_t(j)];
    for (int32_t j = first; j < end; ++j)
      averaging[size_t(t * real + j)] = float(blocks.block_sizes[size_t(j)]) / float(tokens);
  }
  entry = {upload(blocks.token_of_slot, device), upload(blocks.slot_of_token, device),
           upload(blocks.block_sizes, device), upload(averaging, {N, real}, DType::F32, device)};
  return entry;
}

size_t DeviceTileRuns::nbytes() const {
  return token_of_query_row.nbytes() + tile_of_query_block.nbytes() + token_of_key_row.nbytes() +
         key_offset.nbytes();
}

DeviceTileRuns upload_tile_runs(const TileRuns& layout, Device device) {
  return {layout.query_blocks, upload(layout.token_of_query_row, device),
          upload(layout.tile_of_query_block, device), upload(layout.token_of_key_row, device),
          upload(layout.key_offset, device)};
}

const DeviceTileRuns& device_tile_runs(const TokenTiling& tiling, Device device) {
  const std::shared_ptr<const TileRuns> layout = TileRuns::for_tiling(tiling);
  static std::mutex mutex;
  static std::map<std::pair<const TileRuns*, int>, DeviceTileRuns> cache;
  std::lock_guard lock(mutex);
  DeviceTileRuns& entry = cache[{layout.get(), device.index}];  // for_tiling's live for ever
  if (!entry.token_of_key_row.defined()) entry = upload_tile_runs(*layout, device);
  return entry;
}

}  // namespace fastvideo::ops::cuda
