#include "runtime/sharded_layers.h"

#include <algorithm>
#include <vector>

#include "fastvideo/error.h"

namespace fastvideo {

ShardedLayers::ShardedLayers(LayerLayout layout, int layers, int rank, int ranks, Device device)
    : layout_(std::move(layout)), rank_(rank), ranks_(ranks), device_(device) {
  FV_CHECK(ranks >= 1 && rank >= 0 && rank < ranks && layers >= 1, "sharded weights: rank ", rank,
           " of ", ranks, " over ", layers, " layers");
  piece_bytes_ = align_to_layer((layout_.bytes() + size_t(ranks) - 1) / size_t(ranks));
  pieces_.resize(size_t(layers));
}

void ShardedLayers::set_layer(int i, const std::vector<Tensor>& tensors) {
  FV_CHECK(i >= 0 && i < layers(), "sharded weights: layer ", i, " of ", layers());
  layout_.check(tensors, str_cat("sharded weights: layer ", i));
  const size_t begin = std::min(layout_.bytes(), size_t(rank_) * piece_bytes_);
  const size_t end = std::min(layout_.bytes(), begin + piece_bytes_);
  Tensor piece = Tensor::zeros({int64_t(piece_bytes_)}, DType::U8);
  layout_.pack(tensors, static_cast<char*>(piece.raw_data()), begin, end,
               str_cat("sharded weights: layer ", i));
  pieces_[size_t(i)] = device_.is_cpu() ? std::move(piece) : piece.to(device_);
}

std::vector<Tensor> ShardedLayers::gather(int i, Communicator& comm) const {
  return start_gather(i, comm).wait();
}

ShardedLayers::PendingLayer ShardedLayers::start_gather(int i, Communicator& comm) const {
  FV_CHECK(i >= 0 && i < layers() && pieces_[size_t(i)].defined(), "sharded weights: layer ", i,
           " of ", layers(), " was never set");
  FV_CHECK(comm.rank() == rank_ && comm.size() == ranks_, "sharded weights: rank ", rank_, " of ",
           ranks_, " cannot gather over a group in which it is rank ", comm.rank(), " of ",
           comm.size());
  return PendingLayer(&layout_, comm.start_all_gather(pieces_[size_t(i)]));
}

std::vector<Tensor> ShardedLayers::PendingLayer::wait() {
  FV_CHECK(pending_, "sharded weights: a layer's gather waited for twice");
  const std::vector<Tensor> all = pending_->wait();
  pending_.reset();
  return layout_->views(all.at(0));
}

}  // namespace fastvideo
